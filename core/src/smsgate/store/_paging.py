"""Keyset pages, shared by the backends: a cursor names the last row of a page by (created_at, key)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

__all__ = ["decode_cursor", "encode_cursor", "merge_pages", "where"]

R = TypeVar("R")


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


def merge_pages(pages: Sequence[tuple[list[R], Any]], limit: int, key: Callable[[R], Any]) -> tuple[list[R], Any]:
    """One page over several indexes (a tenant's channels): each page holds every match of its index from the
    cursor down to where its next page starts (or to the end, None). The merged page keeps what every index has
    covered, the newest `limit` of it, and starts the next where the least advanced index stopped."""
    frontier = max((f for _rows, f in pages if f is not None), default=None)
    rows = sorted((r for found, _f in pages for r in found), key=key, reverse=True)
    if frontier is not None:
        rows = [r for r in rows if key(r) >= frontier]
    if len(rows) > limit:
        return rows[:limit], key(rows[limit - 1])
    return rows, frontier
