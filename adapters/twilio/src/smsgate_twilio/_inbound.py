"""Reading Twilio's webhooks and answering them: a body that may be base64, media URLs, TwiML replies."""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["EMPTY_TWIML", "MAX_MEDIA", "decode_possible_base64", "twiml"]

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
MAX_MEDIA = 10  # Twilio sends at most 10 MediaUrlN per message

_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def decode_possible_base64(text: str) -> str:
    """Courier's heuristic: a long body that is strict base64 of mostly-ASCII bytes is decoded.

    Some carriers hand Twilio base64 text; courier decodes a body whose stripped form is at least 60
    characters, a multiple of 4 long, canonical base64, and whose bytes are at least half (printable)
    ASCII. Invalid UTF-8 in the result is dropped.
    """
    stripped = text.replace("\r", "").replace("\n", "").strip()
    if len(stripped) < 60 or len(stripped) % 4 or not _BASE64.match(stripped):
        return text
    try:
        decoded = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        return text
    if base64.b64encode(decoded).decode() != stripped:  # non-zero padding bits: not strict base64
        return text
    # courier counts bytes < 128; we count printable ASCII only, so "AAAA..." does not become NUL bytes
    if not decoded or sum(32 <= b < 127 or b in (9, 10, 13) for b in decoded) / len(decoded) < 0.5:
        return text
    return decoded.decode("utf-8", "ignore")


def twiml(comment: str = "") -> str:
    """An empty TwiML response, so Twilio sends no auto-reply; `comment` says why events were ignored."""
    if not comment:
        return EMPTY_TWIML
    safe = comment.replace("--", "- -")  # "--" may not appear inside an XML comment
    return f'<?xml version="1.0" encoding="UTF-8"?><!-- {safe} --><Response/>'
