"""Each channel's link: this instance's latest evidence (a probe, a send answered or not, a bind made or lost), logged
when it changes and written to the store, where every instance, the CLI and the console read it.

Evidence, not guesses: an aggregator that answered (even 401 or 500) is `up`, one that could not be reached is
`down`, and the state follows the latest evidence. A write happens only when the evidence differs from what this
instance last wrote or read, plus a probe's time (one write per probe round, for every channel probed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from .._http._channellog import ChannelLog, HttpTrace
from ..store import LinkSeen

__all__ = ["LinkStore", "Links", "send_evidence"]

log = logging.getLogger("smsgate.link")


class LinkStore(Protocol):
    """What link keeping needs of the store."""

    async def record_links(self, seen: Sequence[LinkSeen]) -> None:
        """Record evidence about channels' links in one write."""


def _answer(trace: HttpTrace) -> str:
    if trace.url.startswith(("http://", "https://")):
        return f"HTTP {trace.status_code}"
    return f"{trace.method} answered with status {trace.status_code}"


def send_evidence(channel: str, clog: ChannelLog) -> LinkSeen | None:
    """What a send's exchange says about the link: an answer of any kind is `up`, requests that all went
    unanswered (refused, unreachable, timed out) are `down`; nothing when no request left (vetoed, not bound)."""
    traces = clog.traces
    if not traces:
        return None
    for trace in reversed(traces):
        if trace.status_code is not None:
            return LinkSeen(channel, "up", f"answered a send ({_answer(trace)})")
    return LinkSeen(channel, "down", traces[-1].error or "no answer to a send")


class Links:
    """This instance's evidence of each channel's link, and its record in the store."""

    def __init__(self, store: LinkStore, *, announce: bool = False) -> None:
        self.store = store
        self.announce = announce
        """Log each change (what `smsgate serve` does); a one-off command's send says what happened itself."""
        self._seen: dict[str, tuple[str, str, float]] = {}  # channel → (state, reason, monotonic time of change)
        self._stored: dict[str, str] = {}  # the state this instance last wrote
        self._listeners: list[Callable[[str, str], None]] = []
        self._store_failing = False

    def state(self, channel: str) -> tuple[str, str] | None:
        """This instance's latest evidence of `channel`'s link: (state, reason), or None before any."""
        found = self._seen.get(channel)
        return None if found is None else (found[0], found[1])

    def down(self, channel: str) -> str | None:
        """Why `channel`'s link is down by this instance's latest evidence, or None (up, or no evidence yet)."""
        found = self._seen.get(channel)
        return found[1] if found is not None and found[0] == "down" else None

    def on_change(self, listener: Callable[[str, str], None]) -> None:
        """Call `listener(channel, state)` when this instance's evidence moves a link (in the event loop)."""
        self._listeners.append(listener)

    async def seen(self, evidence: Sequence[LinkSeen]) -> None:
        """Take evidence: log each link it moves, and write what differs from the store's record (and every
        probe, for its time) in one write. Never raises: a store that cannot be written is logged once and
        written again with the next evidence."""
        writes = []
        for item in evidence:
            if item.state not in ("up", "down"):
                continue
            before = self._seen.get(item.channel)
            if before is None or before[0] != item.state:
                self._seen[item.channel] = (item.state, item.reason, time.monotonic())
                self._announce(item, before)
            if item.probed or self._stored.get(item.channel) != item.state:
                writes.append(item)
        if not writes:
            return
        try:
            await self.store.record_links(writes)
        except Exception as exc:  # evidence must never break a send's outcome or a probe round
            if not self._store_failing:
                log.warning("link state not stored (%s: %s); retried with the next evidence", type(exc).__name__,
                            exc)
            self._store_failing = True
            for item in writes:
                self._stored.pop(item.channel, None)
            return
        self._store_failing = False
        for item in writes:
            self._stored[item.channel] = item.state

    def _announce(self, item: LinkSeen, before: tuple[str, str, float] | None) -> None:
        fields = {"channel": item.channel, "link": item.state, "reason": item.reason}
        if not self.announce:
            pass
        elif item.state == "down":
            log.warning("channel %s: link down: %s", item.channel, item.reason, extra=fields)
        elif before is None:
            log.info("channel %s: link up: %s", item.channel, item.reason, extra=fields)
        else:
            lasted = time.monotonic() - before[2]
            log.info("channel %s: link up again after %s down: %s", item.channel, _duration(lasted), item.reason,
                     extra={**fields, "down_seconds": round(lasted, 3)})
        for listener in self._listeners:
            try:
                listener(item.channel, item.state)
            except Exception:
                log.exception("a link listener failed")


def _duration(seconds: float) -> str:
    """`seconds` in the largest sensible unit: `42 s`, `3 min`, `2.5 h`."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
