"""Reading Clickatell's callbacks: JSON bodies with keys in any case (as courier reads them), reply texts in the
charset Clickatell names, and millisecond timestamps."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime
from typing import Any

from smsgate import InboundRequest, RequestRejected

__all__ = ["JsonFields", "decode_text", "from_millis"]


class JsonFields:
    """A callback's JSON object, its keys looked up in any case."""

    def __init__(self, req: InboundRequest) -> None:
        try:
            data = req.json()
        except RequestRejected as exc:
            raise RequestRejected(f"unable to parse request JSON: {exc.reason}") from None
        if not isinstance(data, dict):
            raise RequestRejected("unable to parse request JSON: the body is not an object")
        self.raw: dict[str, Any] = data
        self.lower: dict[str, Any] = {}
        for key, value in data.items():
            self.lower.setdefault(str(key).lower(), value)

    def text(self, name: str) -> str:
        """A string field, stripped ('' when absent or null); any other JSON type is a 400, as in courier."""
        value = self.lower.get(name.lower())
        if value is None:
            return ""
        if not isinstance(value, str):
            raise RequestRejected(f"unable to parse request JSON: field '{name}' must be a string")
        return value.strip()

    def number(self, name: str) -> int:
        """An integer field (0 when absent or null); any other JSON type is a 400, as in courier."""
        value = self.lower.get(name.lower())
        if value is None:
            return 0
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise RequestRejected(f"unable to parse request JSON: field '{name}' must be an integer")


def decode_text(text: str, charset: str) -> str:
    """A reply's text: percent-encoded UTF-16BE or ISO-8859-1 bytes decoded, any other charset as it came."""
    if charset not in ("UTF-16BE", "ISO-8859-1"):
        return text
    raw = urllib.parse.unquote_to_bytes(text.replace("+", " "))
    if charset == "ISO-8859-1":
        return raw.decode("latin-1")
    return raw.decode("utf-16-be", "replace")  # surrogate pairs (emoji) decode whole; a stray odd byte becomes �


def from_millis(value: int) -> datetime:
    """A Clickatell timestamp (milliseconds since the epoch) in UTC; a 400 when it is out of range."""
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise RequestRejected(f"invalid timestamp {value}") from None
