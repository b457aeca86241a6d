"""Reading what Kannel's sms-service get-url sends: parameters as raw bytes, and the text by coding and charset.

The core decodes parameters as UTF-8, but a UCS-2 MO carries UTF-16BE bytes and an 8-bit one binary data, so
the receive route reads the wire form itself.
"""

from __future__ import annotations

import codecs
import urllib.parse

from smsgate import InboundRequest

__all__ = ["decode_text", "field_text", "raw_params"]

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


def raw_params(req: InboundRequest) -> dict[str, bytes]:
    """Every parameter as raw bytes, body before query (Go's r.Form order), first value per key.

    The core decodes parameters as UTF-8; a UCS-2 MO carries UTF-16BE bytes, so re-parse the wire form with
    Latin-1, which maps each percent-decoded byte to one character and back without loss.
    """
    pairs: list[tuple[str, bytes]] = []
    if req.content_type == "application/x-www-form-urlencoded" and req.body:
        body = req.body.decode("latin-1")
        pairs += [(k, v.encode("latin-1")) for k, v in
                  urllib.parse.parse_qsl(body, keep_blank_values=True, encoding="latin-1")]
    else:
        pairs += [(k, v.encode("utf-8")) for k, v in req.form]
    query = urllib.parse.urlsplit(req.url).query
    pairs += [(k, v.encode("latin-1")) for k, v in
              urllib.parse.parse_qsl(query, keep_blank_values=True, encoding="latin-1")]
    out: dict[str, bytes] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def field_text(value: bytes | None) -> str:
    """A parameter's bytes as stripped UTF-8 text (invalid bytes replaced); "" when it is absent."""
    return "" if value is None else value.decode("utf-8", "replace").strip()
