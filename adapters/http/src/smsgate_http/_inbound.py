"""Reading an `http` channel's callbacks: the first parameter present, RFC 3339 dates, XML mode's two XPaths.

Each rule restates courier's EX handler, so an aggregator already calling RapidPro gets the same answers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from smsgate import InboundRequest, RequestRejected

from ._settings import HttpSettings
from ._xml import MAX_XML_BYTES, compile_xpath, find_text, parse_xml

__all__ = ["first_present", "parse_rfc3339", "read_xml"]

# Go's time.RFC3339Nano as a parse layout: fraction optional, "Z" or a numeric offset, nothing else
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))$", re.ASCII)


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 timestamp with optional fractional seconds (Go's RFC3339Nano); ValueError otherwise."""
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise ValueError(f"not RFC 3339: {value!r}")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = m.groups()
    if zulu:
        tz = UTC
    else:
        if int(off_h) > 23 or int(off_m) > 59:
            raise ValueError(f"invalid offset in {value!r}")
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        tz = timezone(-offset if sign == "-" else offset)
    micro = int((fraction or "0").ljust(6, "0")[:6])  # Python keeps microseconds: nanoseconds are truncated
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)


def first_present(params: dict[str, str], custom: str, defaults: tuple[str, ...]) -> str:
    """The value of the first key *present* (even if empty) among the custom name and the defaults."""
    for key in (custom, *defaults) if custom else defaults:
        if key in params:
            return params[key]
    return ""


def read_xml(settings: HttpSettings, req: InboundRequest) -> tuple[str, str, dict[str, Any]]:
    """The sender, the text and the raw fields of an XML callback, found by the channel's two XPaths."""
    if len(req.body) > MAX_XML_BYTES:
        raise RequestRejected(f"XML body larger than {MAX_XML_BYTES} bytes", 413)
    try:
        root = parse_xml(req.body)
    except ValueError as exc:  # UnsafeXML included: a DOCTYPE is refused with the same 400
        raise RequestRejected(f"unable to parse request XML: {exc}") from None
    sender = find_text(root, compile_xpath(settings.from_xpath))
    text = find_text(root, compile_xpath(settings.text_xpath))
    if sender is None or text is None:
        raise RequestRejected(f"missing from at: {settings.from_xpath} or text at: {settings.text_xpath} node")
    return sender, text, {"from": sender, "text": text}
