"""Background loops (the send worker, the outbox dispatcher, retention), woken when the store commits rows they
care about."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Protocol

from ..errors import StoreUnavailable

__all__ = ["Notifier", "Wakeup", "WakeupLoop", "backoff"]


class Notifier(Protocol):
    """What wakes a loop: the store, which calls each subscriber with the topic of the rows a commit wrote."""

    def subscribe(self, callback: Callable[[str], None]) -> None:
        """Call `callback(topic)` after each commit that wrote rows of `topic` (from any thread)."""



class Wakeup:
    """Wakes a background loop when the store writes rows of `topic` (the writer thread calls it) or on `set()`."""

    def __init__(self, store: Notifier, topic: str) -> None:
        self.topic = topic
        self.event = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        store.subscribe(self._on_store)

    def _on_store(self, topic: str) -> None:
        loop = self.loop
        if topic == self.topic and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.event.set)

    def bind(self) -> None:
        """Deliver wake-ups to the running event loop."""
        self.loop = asyncio.get_running_loop()

    def set(self) -> None:
        """Wake the loop now (from the loop's own thread)."""
        self.event.set()

    def clear(self) -> None:
        """Forget earlier wake-ups: call at the start of a round, which sees everything written before it."""
        self.event.clear()

    async def wait(self, timeout: float) -> None:
        """Return when woken (since the last `clear`) or after `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), timeout)


class WakeupLoop:
    """A background task running rounds until stopped: at once when the store writes rows of `topic`, else every
    `poll_interval` seconds. The send worker, the outbox dispatcher and retention are built on it.

    A subclass implements `round()`, returning how much it did: a busy round is followed at once by another,
    an idle one waits for a wake-up. A round that fails is logged (one line while the database is away) and the
    loop goes on.
    """

    name = "loop"
    #: stop() cancels the running round (outbox deliveries: the next dispatcher retries them); the send worker
    #: instead lets its round finish and its sends drain
    cancel_on_stop = True

    def __init__(self, store: Notifier, topic: str | None, poll_interval: float) -> None:
        self.poll_interval = poll_interval
        self.log = logging.getLogger(f"smsgate.{self.name}")
        self._wake = Wakeup(store, topic or "")
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def round(self) -> int:
        """One round of work; how many items it handled."""
        raise NotImplementedError

    async def run_once(self) -> int:
        """One round, waited for to its end (for tests and tools)."""
        return await self.round()

    async def drain(self, rounds: int = 1000) -> int:
        """Run rounds until one does nothing; return the items handled."""
        total = 0
        for _ in range(rounds):
            done = await self.run_once()
            if not done:
                break
            total += done
        return total

    async def run(self) -> None:
        """Run rounds until stopped."""
        self._wake.bind()
        while not self._stopping:
            self._wake.clear()
            try:
                if await self.round() and not self._stopping:
                    continue
            except StoreUnavailable as exc:  # the database is away: one line a round, no traceback; it resumes
                self.log.warning("%s round skipped: %s", self.name, exc)
            except Exception:
                self.log.exception("%s round failed", self.name)
            await self._wake.wait(self.poll_interval)

    def wake(self) -> None:
        """Start the next round now (from the loop's own thread)."""
        self._wake.set()

    def start(self) -> None:
        """Run in the background of the current event loop."""
        self._wake.bind()
        self._stopping = False
        self._task = asyncio.create_task(self.run(), name=f"smsgate-{self.name}")

    async def stop(self) -> None:
        """Take nothing new and end the background task (cancelling its round if `cancel_on_stop`)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            if self.cancel_on_stop:
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def backoff(attempts: int, base: float, cap: float, jitter: float) -> float:
    """Seconds to wait: `base` doubled `attempts` times, at most `cap`, times a random factor in
    [1 - jitter, 1] so that retries of one outage spread out."""
    delay = min(cap, base * 2 ** min(max(attempts, 0), 30))
    return float(delay * random.uniform(1 - jitter, 1.0))
