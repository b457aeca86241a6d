"""The status rule every backend applies: a message's status never moves backwards, and a replay is recorded once.

Aggregators send reports late, twice and out of order (a `sent` after `delivered` is common). `rank` orders
the statuses; `delivered` and `failed` share the last rank but one, so neither overrides the other.
"""

from __future__ import annotations

from .._models import Status

__all__ = ["moves", "part_status", "recorded"]


def moves(previous: Status, new: Status) -> bool:
    """Whether a report of `new` changes a message now at `previous` (each errored attempt counts anew)."""
    return new.rank > previous.rank or (new is Status.ERRORED and previous is Status.ERRORED)


def recorded(previous: Status, new: Status, applied: bool, seen_before: bool) -> bool:
    """Whether the report goes into the message's history: all but a replay of the current or an older status
    already on record (errors excepted: each failed attempt is its own event)."""
    if applied or new is Status.ERRORED:
        return True
    return not (new is previous or seen_before)


def part_status(new: Status, part: str | None, parts: set[str], delivered: set[str]) -> Status:
    """A report of `new` for part `part` of a message sent as `parts` (their external ids), `delivered` being the
    parts already reported delivered: the message is delivered only when every part is; until then one part's
    `delivered` moves it to `sent`. A failed part fails it at once (same rank as delivered: never undone)."""
    if new is not Status.DELIVERED or part is None or len(parts) < 2 or part not in parts:
        return new
    return new if parts <= delivered | {part} else Status.SENT
