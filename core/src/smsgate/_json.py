"""Strict JSON in, strict JSON out: what smsgate accepts it can always store and render back.

Python's `json` reads `NaN`, `Infinity` and `1e999` (as an infinite float), `"\\ud800"` (a lone surrogate that no
UTF-8 encoder will write) and nesting deep enough to overflow the stack later, in code far from the request that
brought it. `loads` refuses all of these at the edge, with a reason fit for a 400. `clean` makes any value safe
to render as strict JSON (for rows stored before this check existed): non-finite numbers become null, lone
surrogates U+FFFD, and anything nested deeper than `MAX_DEPTH` a short placeholder string.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["MAX_DEPTH", "JSONRejected", "clean", "dumps", "loads", "loads_stored"]

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a request body (a whole body, metadata included)."""

DEEP = "(nested too deeply)"
_SURROGATE_ESCAPE = re.compile(rb"\\[uU][dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONRejected(ValueError):
    """A body that is not strict JSON, or that smsgate will not store; the message says why."""


def _no_constant(name: str) -> Any:
    raise JSONRejected(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONRejected(f"number {text[:40]} is too large")
    return value


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse strict JSON: no NaN/Infinity, no overflowing numbers, no lone surrogates, nesting ≤ `max_depth`."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONRejected(f"not valid UTF-8: {exc.reason} at byte {exc.start}") from None
    # the bracket count is an upper bound of the depth: only a body that might be too deep is measured
    if text.count("[") + text.count("{") > max_depth and _depth(text) > max_depth:
        raise JSONRejected(f"nested deeper than {max_depth} levels")
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except JSONRejected:
        raise
    except json.JSONDecodeError as exc:
        raise JSONRejected(str(exc)) from None
    except (RecursionError, ValueError):  # an integer longer than Python will read
        raise JSONRejected("a number is too long") from None
    # a lone surrogate can only come from a \uD800-\uDFFF escape: the decoded UTF-8 text holds none
    if _SURROGATE_ESCAPE.search(raw) and _has_surrogate(value):
        raise JSONRejected("a string holds a lone surrogate (\\ud800-\\udfff), which is not a Unicode character")
    return value


def _depth(text: str) -> int:
    """The deepest nesting of `text`'s arrays and objects, outside strings (no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _has_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def clean(value: Any, depth: int = 0) -> Any:
    """`value` made renderable as strict JSON: NaN/±inf → None, lone surrogates → U+FFFD, too deep → a note."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict | list | tuple) and depth >= MAX_DEPTH:
        return DEEP
    if isinstance(value, dict):
        return {clean(str(k)): clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v, depth + 1) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    return clean(str(value))


# what a strict parse would refuse: non-finite constants, exponents or digit runs long enough to overflow a float,
# surrogate escapes
_SUSPECT = re.compile(r"NaN|Infinity|[eE][+]?\d{3}|\d{300}|\\[uU][dD][89a-fA-F]")


def loads_stored(text: str) -> Any:
    """A JSON column as stored, made safe to render (rows written by older versions may hold NaN or worse)."""
    if not _SUSPECT.search(text) and text.count("[") + text.count("{") <= MAX_DEPTH:
        return json.loads(text)
    try:
        value = json.loads(text, parse_constant=lambda name: None)
    except RecursionError:
        return DEEP
    return clean(value)


def dumps(value: Any) -> str:
    """Compact strict JSON (no NaN, UTF-8 kept); raises ValueError for what `clean` would have fixed."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
