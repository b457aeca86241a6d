"""The link prober of `smsgate serve`: every channel's `check_link()` every `health_interval` seconds (0: never).

Each probe runs as a task of its own (one aggregator that never answers delays no other channel), at most
`concurrency` at once; what they find is handed to `Links` together, one store write per round of probes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from .._adapter import Adapter
from ..store import LinkSeen, Notifier, WakeupLoop
from ._links import Links

__all__ = ["LinkProber"]

log = logging.getLogger("smsgate.link")

# results of probes that finished wait at most this long for the probes still running, then are written anyway
_FLUSH_AFTER = 1.0


class LinkProber(WakeupLoop):
    """Probes each channel's link on its own schedule and records what it finds."""

    name = "prober"

    def __init__(self, adapters: Mapping[str, Adapter[Any]], links: Links, store: Notifier, *,
                 concurrency: int = 32) -> None:
        intervals = [a.settings.health_interval for a in adapters.values() if a.settings.health_interval]
        super().__init__(store, None, min([1.0, *intervals]))
        self.adapters = adapters
        self.links = links
        self._slots = asyncio.Semaphore(concurrency)
        self._due: dict[str, float] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._found: list[LinkSeen] = []
        self._first_found = 0.0
        self._failing: set[str] = set()

    @property
    def probing(self) -> bool:
        """Whether any channel is probed at all (some `health_interval` is not 0)."""
        return any(a.settings.health_interval for a in self.adapters.values())

    async def round(self) -> int:
        """Start the probes that are due; write what finished probes found. Always 0: rounds follow the clock."""
        now = time.monotonic()
        for name, adapter in self.adapters.items():
            interval = adapter.settings.health_interval
            if not interval or self._stopping or name in self._running or now < self._due.get(name, 0.0):
                continue
            self._due[name] = now + interval
            self._running[name] = asyncio.create_task(self._probe(name, adapter), name=f"smsgate-probe-{name}")
        if self._found and (not self._running or now - self._first_found >= _FLUSH_AFTER):
            found, self._found = self._found, []
            await self.links.seen(found)
        return 0

    async def run_once(self) -> int:
        """Probe every channel now and wait for the answers (for tests and tools); how many were probed."""
        self._due.clear()
        await self.round()
        running = list(self._running.values())
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        await self.round()
        return len(running)

    async def _probe(self, name: str, adapter: Adapter[Any]) -> None:
        try:
            async with self._slots:
                # the adapter's own timeouts bound a probe; this one only guards against an adapter that hangs
                found = await asyncio.wait_for(adapter.check_link(), adapter.settings.timeout + 10.0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an adapter's bug is no evidence about its aggregator: logged, not recorded
            if name not in self._failing:
                log.warning("channel %s: the link probe failed: %s: %s", name, type(exc).__name__,
                            adapter.redactor.text(str(exc)), extra={"channel": name})
            self._failing.add(name)
            found = None
        else:
            self._failing.discard(name)
        finally:
            self._running.pop(name, None)
        if found is not None:
            if not self._found:
                self._first_found = time.monotonic()
            self._found.append(LinkSeen(name, found[0], found[1], probed=True))
        if not self._running:
            self.wake()

    async def stop(self) -> None:
        """Stop probing: cancel the probes in flight (nothing they found is written)."""
        await super().stop()
        running = list(self._running.values())
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._running.clear()
