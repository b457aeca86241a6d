"""Templates of the External API channel: `{{var}}` placeholders escaped for where they land."""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping

__all__ = [
    "CONTENT_TYPES",
    "DEFAULT_BODIES",
    "VARIABLES",
    "content_type_header",
    "escape_xml",
    "escaper",
    "placeholders",
    "quick_replies",
    "render",
    "used_variables",
]

#: Every variable a `send_url` or `body` template may use.
VARIABLES = frozenset({
    "id", "uuid", "text", "to", "to_no_plus", "from", "from_no_plus", "channel", "session_status", "quick_replies",
})

#: The `content_type` keywords and the Content-Type header each sends; any other value is sent verbatim.
CONTENT_TYPES = {
    "urlencoded": "application/x-www-form-urlencoded",
    "json": "application/json",
    "xml": "text/xml; charset=utf-8",
}

#: The body used when a channel sets none: the seed's JSON example, and RapidPro's claim-form default for forms.
DEFAULT_BODIES = {
    "json": ('{"id": {{id}}, "text": {{text}}, "to": {{to}}, "to_no_plus": {{to_no_plus}}, "from": {{from}}, '
             '"from_no_plus": {{from_no_plus}}, "channel": {{channel}}}'),
    "urlencoded": ("id={{id}}&text={{text}}&to={{to}}&to_no_plus={{to_no_plus}}&from={{from}}"
                   "&from_no_plus={{from_no_plus}}&channel={{channel}}"),
}

_PLACEHOLDER = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")

# Go's xml.EscapeText: the five markup characters plus tab, newline and carriage return as character references.
_XML_ESCAPES = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\t": "&#x9;", "\n": "&#xA;",
                "\r": "&#xD;"}


def _xml_char_ok(code: int) -> bool:
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def escape_xml(value: str) -> str:
    """XML text escaping as Go's `xml.EscapeText` does it (a character XML cannot hold becomes U+FFFD)."""
    out = []
    for char in value:
        escaped = _XML_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif _xml_char_ok(ord(char)):
            out.append(char)
        else:
            out.append("\ufffd")
    return "".join(out)


def _escape_query(value: str) -> str:
    return urllib.parse.quote_plus(value, safe="")  # Go's url.QueryEscape: a space becomes "+"


def _escape_json(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string literal, quotes included


def _raw(value: str) -> str:
    return value


def escaper(content_type: str) -> Callable[[str], str]:
    """How a variable is escaped in a body of `content_type` (a keyword, or a literal type: no escaping)."""
    return {"urlencoded": _escape_query, "json": _escape_json, "xml": escape_xml}.get(content_type, _raw)


def content_type_header(content_type: str) -> str:
    """The Content-Type header for a `content_type` keyword, or the literal value itself."""
    return CONTENT_TYPES.get(content_type, content_type)


def quick_replies(replies: list[str], method: str, content_type: str) -> str:
    """The `{{quick_replies}}` rendering: a JSON array or XML items in a POST/PUT body, else query parameters."""
    if method in ("POST", "PUT") and content_type == "json":
        return json.dumps(replies, ensure_ascii=False, separators=(",", ":"))
    if method in ("POST", "PUT") and content_type == "xml":
        return "".join(f"<item>{escape_xml(r)}</item>" for r in replies)
    return "".join(f"&quick_reply={_escape_query(r)}" for r in replies)


def placeholders(template: str) -> set[str]:
    """The variable names a template uses."""
    return {m.group(1) for m in _PLACEHOLDER.finditer(template)}


@functools.lru_cache(maxsize=64)
def used_variables(template: str) -> frozenset[str]:
    """The variables a template shows, cached: templates are a channel's settings, few and parsed once each."""
    return frozenset(placeholders(template))


def render(template: str, variables: Mapping[str, str]) -> str:
    """Substitute already-escaped `variables` in one pass, so a value is never expanded again as a template."""
    return _PLACEHOLDER.sub(lambda m: variables.get(m.group(1), m.group(0)), template)
