"""Waking a background loop (the send worker, the outbox dispatcher) when the store commits rows it cares about."""

from __future__ import annotations

import asyncio
import contextlib

from ._protocol import Store

__all__ = ["Wakeup"]


class Wakeup:
    """Wakes a background loop when the store writes rows of `topic` (the writer thread calls it) or on `set()`."""

    def __init__(self, store: Store, topic: str) -> None:
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
