"""Phone number normalisation with `phonenumbers`, following RapidPro's `ParsePhone` rules."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

__all__ = ["InvalidNumber", "national_number", "normalize_number", "number_region"]

_STRIP = re.compile(r"[^0-9A-Za-z]")
_SENDER_ID = re.compile(r"^[0-9A-Za-z]{3,64}$")
_SHORT = re.compile(r"^[1-9][0-9]{2,5}$")


class InvalidNumber(ValueError):
    """The value is neither a possible phone number nor an allowed short code or sender id."""


@lru_cache(maxsize=4096)
def normalize_number(raw: str, country: str | None = None, *, allow_short: bool = True,
                     allow_sender_id: bool = False) -> str:
    """E.164 form of `raw` parsed for `country` (ISO 3166 alpha-2); short codes and sender ids as allowed."""
    value = raw.strip()
    plus = value.startswith("+")
    digits = _STRIP.sub("", value)
    if not digits:
        raise InvalidNumber(f"not a possible number: {raw!r}")
    region = (country or "").upper() or None
    candidate = ("+" if plus else "") + digits
    if digits.isdigit():
        parsed = _parse(candidate, region)
        if parsed is None and not plus and len(digits) >= 11 and not digits.startswith("0"):
            parsed = _parse("+" + digits, region)  # an international number written without its plus
        if parsed is not None:
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if allow_short and not plus and _SHORT.match(digits):
            return digits
    if allow_sender_id and _SENDER_ID.match(digits) and not plus:
        return digits.lower()
    raise InvalidNumber(f"not a possible number: {raw!r}")


def _parse(candidate: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        parsed = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_possible_number(parsed) else None


def national_number(e164: str) -> str:
    """The national significant number (no country code, no trunk 0): `+250788383383` → `788383383`."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164.lstrip("+")
    return str(phonenumbers.national_significant_number(parsed))


@lru_cache(maxsize=4096)
def number_region(e164: str) -> str | None:
    """The ISO 3166 alpha-2 country an E.164 number belongs to (None for a short code, a sender id or a number
    of no one country, such as a satellite service's)."""
    if not e164.startswith("+"):
        return None
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    return None if region in (None, "ZZ", "001") else str(region)
