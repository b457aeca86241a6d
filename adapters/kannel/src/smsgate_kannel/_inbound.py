"""Reading what Kannel's sms-service get-url sends: the text of an MO's raw bytes, by coding and charset.

A UCS-2 MO carries UTF-16BE bytes and an 8-bit one binary data, so the receive route reads its parameters with
the core's `InboundRequest.raw_fields()` (a `raw_form` route: POSTed forms too) and decodes them here.
"""

from __future__ import annotations

import codecs

__all__ = ["decode_text", "field_text"]

# Codecs Python knows that are not charsets anyone sends SMS text in: never apply them to inbound bytes.
_NOT_CHARSETS = frozenset({"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"})
_UCS2_NAMES = frozenset({"", "ucs-2", "ucs2", "utf-16", "utf16", "utf-16be", "utf16be", "iso-10646-ucs-2"})


def decode_text(raw: bytes, coding: str = "", charset: str = "") -> str:
    """An MO's text from Kannel's bytes, by its `coding` (%c) and `charset` (%C); never raises.

    coding 2 (UCS-2) without a charset, or with a UTF-16 name, is UTF-16BE. coding 1 (8-bit data) keeps each
    byte as one Latin-1 character (lossless). Otherwise a known charset decides; without one, UTF-8 if valid.
    """
    name = charset.strip().lower()
    if coding.strip() == "2" and name in _UCS2_NAMES:
        if raw[:2] == b"\xff\xfe":
            return raw[2:].decode("utf-16-le", "replace")
        return raw.removeprefix(b"\xfe\xff").decode("utf-16-be", "replace")
    if coding.strip() == "1":
        return raw.decode("latin-1")
    if name in _UCS2_NAMES - {""}:
        return raw.decode("utf-16-be", "replace")
    codec = _codec(name)
    if codec is not None:
        return raw.decode(codec, "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _codec(name: str) -> str | None:
    if not name:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def field_text(value: bytes | None) -> str:
    """A parameter's bytes as stripped UTF-8 text (invalid bytes replaced); "" when it is absent."""
    return "" if value is None else value.decode("utf-8", "replace").strip()
