"""SMS text handling: GSM-7 / UCS-2 detection, segments, smart substitution and RapidPro's byte split."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Segments",
    "attachment_url",
    "is_gsm7",
    "segment",
    "smart_encode",
    "split_bytes",
    "with_attachments",
]

# GSM 03.38 default alphabet (one septet each) and its extension table (escape + one septet).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

# Substitutions RapidPro/courier's gsm7.ReplaceSubstitutions applies: typography that has a GSM-7 twin.
_SMART = str.maketrans({
    "\u00a0": " ",  # no-break space
    "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u200b": "",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2026": "...", "\u2022": "-", "\u00b7": ".",
    "\u02c6": "^", "\u2039": "<", "\u203a": ">", "\u02dc": "~",
    "\u00e1": "a", "\u00ed": "i", "\u00f3": "o", "\u00fa": "u", "\u00e2": "a", "\u00ea": "e",
    "\u00ee": "i", "\u00f4": "o", "\u00fb": "u", "\u00e7": "c", "\u00e3": "a", "\u00f5": "o",
    "\u00c1": "A", "\u00cd": "I", "\u00d3": "O", "\u00da": "U", "\u00c0": "A", "\u00c2": "A",
    "\u00ca": "E", "\u00ce": "I", "\u00d4": "O", "\u00db": "U", "\u00c3": "A", "\u00d5": "O",
})


def is_gsm7(text: str) -> bool:
    """True when every character of `text` is in the GSM-7 alphabet or its extension table."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)


def smart_encode(text: str) -> str:
    """Replace typographic characters by GSM-7 twins; return the original if the result is still not GSM-7."""
    replaced = text.translate(_SMART)
    return replaced if is_gsm7(replaced) else text


@dataclass(frozen=True, slots=True)
class Segments:
    """How a text travels as SMS: its encoding (`gsm7` or `ucs2`) and the text of each segment."""

    encoding: str
    parts: list[str]

    @property
    def count(self) -> int:
        """Number of SMS segments."""
        return len(self.parts)


def _units(char: str, gsm: bool) -> int:
    if gsm:
        return 2 if char in GSM7_EXTENDED else 1
    return 2 if ord(char) > 0xFFFF else 1  # astral characters take a UTF-16 surrogate pair


def segment(text: str) -> Segments:
    """Split `text` into SMS segments (160/153 GSM-7 septets or 70/67 UCS-2 units), never halving a pair."""
    gsm = is_gsm7(text)
    single, multi = (160, 153) if gsm else (70, 67)
    total = sum(_units(c, gsm) for c in text)
    if total <= single:
        return Segments("gsm7" if gsm else "ucs2", [text])
    parts: list[str] = []
    buf: list[str] = []
    used = 0
    for char in text:
        size = _units(char, gsm)
        if used + size > multi:  # an escape or surrogate pair moves whole to the next segment
            parts.append("".join(buf))
            buf, used = [], 0
        buf.append(char)
        used += size
    if buf:
        parts.append("".join(buf))
    return Segments("gsm7" if gsm else "ucs2", parts)


def split_bytes(text: str, max_bytes: int) -> list[str]:
    """Split by UTF-8 byte length exactly as RapidPro's courier `SplitText` does (prefers cutting at spaces)."""
    if len(text.encode()) <= max_bytes:
        return [text]
    parts: list[str] = []
    buf = ""
    buf_len = 0
    for char in text:
        buf += char
        buf_len += len(char.encode())
        if buf_len == max_bytes or (buf_len > max_bytes - 6 and char == " "):
            parts.append(buf.strip())
            buf, buf_len = "", 0
        elif buf_len > max_bytes:
            # a multi-byte rune overflowed: courier keeps runes whole, so cut before it
            parts.append(buf[:-1].strip())
            buf, buf_len = char, len(char.encode())
    if buf.strip():
        parts.append(buf.strip())
    return [p for p in parts if p]


def attachment_url(attachment: str) -> str:
    """The URL of an attachment written as RapidPro sends it, `mime/type:url`, or as a bare URL."""
    mime, sep, rest = attachment.partition(":")
    # "https://..." also has a colon: only a prefix with a slash (a MIME type) and no "//" after it is dropped
    return rest if sep and "/" in mime and not rest.startswith("//") else attachment


def with_attachments(text: str, attachments: list[str]) -> str:
    """Append each attachment URL on its own line (a `mime:` prefix is dropped), as SMS channels do."""
    for attachment in attachments:
        url = attachment_url(attachment)
        text = f"{text}\n{url}" if text else url
    return text
