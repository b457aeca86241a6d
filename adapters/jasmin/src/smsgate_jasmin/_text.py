"""Texts as Jasmin's HTTP API takes them and gives them: `coding` 0 with GSM-7 `content` or 8 with UCS-2
`hex-content`, long texts cut to fit Jasmin's part limit, and MO bytes decoded by their data coding."""

from __future__ import annotations

import binascii
import codecs

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
from smsgate.text import is_gsm7, segment, smart_encode

__all__ = ["coding_of", "decode_mo", "encode", "fit_parts", "mo_bytes"]

GSM7 = "gsm03.38"
# SMPP 3.4 data_coding → codec; 2 and 4 are 8-bit binary, kept byte for byte as Latin-1
_CODECS = {0: GSM7, 1: "ascii", 2: "latin-1", 3: "latin-1", 4: "latin-1", 5: "shift_jis", 6: "iso8859-5",
           7: "iso8859-8", 8: "utf-16-be", 13: "iso2022_jp", 14: "euc_kr"}


def encode(text: str) -> tuple[str, bool]:
    """(the text to send, whether it goes as UCS-2): GSM-7 after courier's smart substitutions when that fits,
    else the original text as UCS-2."""
    smart = smart_encode(text)
    return (smart, False) if is_gsm7(smart) else (text, True)


def fit_parts(text: str, max_parts: int) -> list[str]:
    """`text` cut into pieces of at most `max_parts` SMS parts each (Jasmin cuts the rest of a longer one off
    without a word): whole parts as core's `segment()` cuts them, ending a piece at its last space when one
    falls in its second half."""
    pieces: list[str] = []
    rest = text
    while True:
        parts = segment(rest).parts
        if len(parts) <= max_parts:
            break
        head = "".join(parts[:max_parts])
        space = head.rfind(" ")
        if space > len(head) // 2:
            head = head[:space]
        pieces.append(head.rstrip())
        rest = rest[len(head):].lstrip(" ")
    if rest.strip() or not pieces:
        pieces.append(rest)
    return [p for p in pieces if p] or [text]


def coding_of(raw: bytes) -> int | None:
    """An MO's `coding`: one raw byte as a real Jasmin sends it (`%00`, `%08`), or a decimal string as its docs
    and courier's tests have it (`0`, `8`); None when absent or neither."""
    value = raw.strip()
    if value.isdigit():
        return int(value) if len(value) <= 3 and int(value) < 256 else None
    return raw[0] if len(raw) == 1 else None


def mo_bytes(content: bytes, binary: bytes) -> bytes:
    """The MO's short_message bytes: from `binary` (lowercase hex, plain ASCII) when it is valid, else `content`."""
    if binary:
        try:
            return binascii.unhexlify(binary.strip())
        except (binascii.Error, ValueError):
            pass
    return content


def _codec(coding: int) -> str:
    if coding & 0xF0 == 0xF0:  # GSM 03.38 "data coding/message class": bit 2 set means 8-bit data
        return "latin-1" if coding & 0x04 else GSM7
    return _CODECS.get(coding, "latin-1")


def decode_mo(data: bytes, coding: int | None) -> str:
    """An MO's text from its bytes by data coding; never raises (an undecodable byte becomes U+FFFD)."""
    codec = _codec(coding or 0)
    if codec == "utf-16-be" and len(data) % 2:  # an odd byte count cannot be UCS-2: keep what can be read
        return data[:-1].decode(codec, "replace") + "\ufffd"
    try:
        return codecs.decode(data, codec, "replace")
    except (LookupError, ValueError):
        return data.decode("latin-1")
