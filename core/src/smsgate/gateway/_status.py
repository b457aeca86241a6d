"""What each channel is doing now, from the store: its link, its last minute of traffic, its queue, its last error.

`smsgate status`, `GET /api/v1/channels` and the console's live view all show `channel_status()`, so they never
disagree. Every number is read from an index (the link table, two partial indexes of the last minute, the
pending-sends index, the newest error log), so it costs the same on a million messages as on ten.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from .._models import MessageRecord, utcnow
from ..store import Reads

__all__ = ["WINDOW_SECONDS", "ChannelStatus", "channel_status", "message_timing"]

WINDOW_SECONDS = 60
"""The window of `out_per_min` and `in_per_min`: the last minute."""


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """One channel now: the `--json` objects of `smsgate status` and the items of `GET /api/v1/channels`."""

    channel: str
    adapter: str
    link: str
    """`up`, `down`, or `unknown` (no evidence yet: not probed, nothing sent)."""
    since: str | None
    """When the link entered that state (UTC, ISO 8601); None while unknown."""
    reason: str
    """The evidence: what answered, or why the aggregator could not be reached."""
    probed_at: str | None
    """When a probe last looked (None if only sends were evidence, or the channel is not probed)."""
    queued: int
    """Outgoing messages waiting to be sent (queued, or errored and waiting for their next attempt)."""
    oldest_queued_s: float | None
    """Age in seconds of the oldest of them (None when none waits)."""
    out_per_min: int
    """Messages the aggregator accepted in the last minute."""
    in_per_min: int
    """Messages received in the last minute."""
    last_error: dict[str, Any] | None
    """The newest error in the channel's logs: `at`, `kind` (send, receive, ...), `message_id`, `error`."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def _age(stamp: str | None, now: datetime) -> float | None:
    if not stamp:
        return None
    return round(max(0.0, (now - datetime.fromisoformat(stamp)).total_seconds()), 3)


async def channel_status(reads: Reads, adapters: Mapping[str, str], *, now: datetime | None = None
                         ) -> list[ChannelStatus]:
    """The status of each channel of `adapters` (name → adapter name), sorted by name, read from `reads` now."""
    now = now or utcnow()
    names = sorted(adapters)
    links, backlog, rates, errors = await asyncio.gather(
        reads.links(), reads.backlog(), reads.rates(names, now - timedelta(seconds=WINDOW_SECONDS)),
        reads.last_errors(names))
    found = []
    for name in names:
        link = links.get(name)
        queued, oldest = backlog.queued.get(name, (0, None))
        rate = rates.get(name)
        error = errors.get(name)
        found.append(ChannelStatus(
            channel=name, adapter=adapters[name], link=link.state if link else "unknown",
            since=link.since if link else None, reason=link.reason if link else "",
            probed_at=link.probed_at if link else None, queued=queued, oldest_queued_s=_age(oldest, now),
            out_per_min=rate.out if rate else 0, in_per_min=rate.in_ if rate else 0,
            last_error=None if error is None else {
                "at": error.get("created_at"), "kind": error.get("kind"), "message_id": error.get("message_id"),
                "error": "; ".join(error.get("errors") or [])}))
    return found


def message_timing(record: MessageRecord) -> list[tuple[str, float]]:
    """An outgoing message's steps with the seconds each took, to the microsecond as stored: queued → wired (the
    aggregator took it) → sent → delivered (or failed), from the first applied report of each status."""
    first: dict[str, datetime] = {}
    for entry in record.history:
        if entry.get("applied") and entry["status"] not in first:
            first[entry["status"]] = datetime.fromisoformat(entry["at"])
    steps = []
    previous = ("queued", first.get("queued") or datetime.fromisoformat(record.created_at))
    for status in ("wired", "sent", "delivered", "failed", "read"):
        at = first.get(status)
        if at is not None:
            steps.append((f"{previous[0]} → {status}", max(0.0, (at - previous[1]).total_seconds())))
            previous = (status, at)
    return steps
