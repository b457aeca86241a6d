"""Twilio's own contract as a test oracle for the front: each JSON answer checked against the response schema
Twilio's OpenAPI description gives for that operation (the copy vendored in adapters/twilio/contract/).

The contract's schemas use a small part of OpenAPI 3.0 (type with `nullable`, enum, pattern, min/maxLength,
properties, items, $ref, a few formats); `problems` checks exactly that, and more strictly than a validator
would: an object may hold no key its schema does not name (Twilio's Python SDK refuses a page with an unknown
top-level key), and a Message must hold every key its schema names (applications read them all).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from tests.support.peers import TWILIO_SPEC

__all__ = ["MESSAGE", "check", "problems", "schema_for"]

MESSAGE = "#/components/schemas/api.v2010.account.message"
_RFC2822 = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                      r"\d{4} \d{2}:\d{2}:\d{2} \+0000")
_TYPES = {"string": str, "object": dict, "array": list, "boolean": bool}


@functools.cache
def _spec() -> dict[str, Any]:
    return json.loads(TWILIO_SPEC.read_text(encoding="utf-8"))


def _resolve(ref: str) -> dict[str, Any]:
    node: Any = _spec()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def schema_for(method: str, path: str, status: int) -> dict[str, Any]:
    """The JSON schema of `method path`'s `status` answer in Twilio's contract (path as the contract writes it)."""
    operation = _spec()["paths"][path][method.lower()]
    return operation["responses"][str(status)]["content"]["application/json"]["schema"]


def problems(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """Everything in `value` that Twilio's schema does not allow (empty: it conforms)."""
    if "$ref" in schema:
        ref = schema["$ref"]
        found = problems(value, _resolve(ref), where)
        if ref == MESSAGE and isinstance(value, dict):
            found += [f"{where}: lacks {key!r}" for key in _resolve(ref)["properties"] if key not in value]
        return found
    if value is None:
        return [] if schema.get("nullable") or "type" not in schema else [f"{where}: null, not {schema['type']}"]
    kind = schema.get("type")
    if kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: {value!r} is not an integer"]
    elif kind == "number":
        if not isinstance(value, int | float) or isinstance(value, bool):
            return [f"{where}: {value!r} is not a number"]
    elif kind is not None and not isinstance(value, _TYPES[kind]):
        return [f"{where}: {value!r} is not a {kind}"]
    found: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: {value!r} is none of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            found.append(f"{where}: {value!r} has the wrong length")
        if schema.get("format") == "date-time-rfc-2822" and not _RFC2822.fullmatch(value):
            found.append(f"{where}: {value!r} is not Twilio's RFC 2822 date")
        if schema.get("format") == "uri" and not value.startswith(("/", "http://", "https://")):
            found.append(f"{where}: {value!r} is not a URI")
    if isinstance(value, dict) and "properties" in schema:
        names = schema["properties"]
        found += [f"{where}: {key!r} is not in Twilio's schema" for key in value if key not in names]
        for key, item in value.items():
            if key in names:
                found += problems(item, names[key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += problems(item, schema["items"], f"{where}[{i}]")
    return found


def check(method: str, path: str, status: int, body: Any) -> None:
    """Assert that `body` is what Twilio's contract says `method path` answers with `status`."""
    found = problems(body, schema_for(method, path, status))
    assert not found, "\n".join(found)
