"""Settings field types and request helpers every adapter needs, written once.

    class MySettings(ChannelSettings):
        send_url: HttpUrl = Field(description="Where sends go.")
        password: Secret = Field(description="The account's password.")

`HttpUrl` is an http(s) URL with a host and no #fragment (surrounding spaces removed);
`Secret` a `SecretStr` that must not be empty (masked in every log, and in every other channel's too).
"""

from __future__ import annotations

import hmac
import re
import urllib.parse
from typing import Annotated

from pydantic import AfterValidator, SecretStr

__all__ = ["HttpUrl", "Secret", "http_url", "parse_uuid", "same_secret"]


def http_url(value: str) -> str:
    """`value` stripped, if it is an http(s) URL with a host and no fragment; else a ValueError saying why."""
    value = value.strip()
    parts = urllib.parse.urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL with a host, such as https://sms.example/send")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    return value


def _non_empty(value: SecretStr) -> SecretStr:
    if not value.get_secret_value().strip():
        raise ValueError("must not be empty")
    return value


HttpUrl = Annotated[str, AfterValidator(http_url)]
"""A settings field holding an http(s) URL (validated with `http_url`)."""

Secret = Annotated[SecretStr, AfterValidator(_non_empty)]
"""A settings field holding a credential: masked everywhere, and not empty."""


def same_secret(given: str, expected: str) -> bool:
    """Whether a caller's credential equals the configured one, in constant time (no early exit to time)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def parse_uuid(value: str | None) -> str | None:
    """`value` (spaces around allowed) as a lower-case hyphenated UUID, the form of every id smsgate hands out,
    or None if it is not one."""
    if not value:
        return None
    value = value.strip()
    return value.lower() if _UUID.fullmatch(value) else None
