"""Keyset pages, shared by the backends: a cursor names the last row of a page by (created_at, key)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

__all__ = ["cursor_before", "decode_cursor", "encode_cursor", "where"]


def where(conditions: list[str]) -> str:
    """` WHERE a AND b`, or nothing without conditions."""
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def encode_cursor(created_at: str, key: int) -> str:
    """An opaque cursor after the row created at `created_at` (ISO 8601) with tie-breaking `key`."""
    return base64.urlsafe_b64encode(f"{created_at}|{key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    """The (created_at as written, key) a cursor names; ValueError (the API answers 400) for anything we did not
    issue: the time must be ISO 8601 with a zone."""
    try:
        created, _, key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        if datetime.fromisoformat(created).tzinfo is None:
            raise ValueError("no time zone")
        return created, int(key)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValueError(f"invalid cursor {cursor!r}") from None


def cursor_before(when: datetime) -> str:
    """A cursor from which `find_messages` lists the messages created before `when` (a time-bounded listing
    starts there, on the same index as any page)."""
    # key 0 is below every row's key, so the row-key tie-break admits no row created at `when` itself
    return encode_cursor(when.astimezone(UTC).isoformat(timespec="microseconds"), 0)
