"""The SQLite store's shared state: its threads, the planner of platform events, the listeners it wakes."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from ..._events import PlatformEvent
from ..._events import timestamp as _ts
from ..._models import (
    MessageRecord,
    new_id,
)
from .._records import OutboxPlanner
from .._shared import Listeners
from ._connection import _Readers, _Writer
from ._rows import _get

T = TypeVar("T")
log = logging.getLogger("smsgate.store")


class _Base:
    """What every part of the store shares: the threads, the planner, the listeners."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL", readonly: bool = False) -> None:
        """Open (creating it and its folder if needed) the database at `path`; with `readonly`, open an existing
        one for reading only, creating nothing: FileNotFoundError if there is none."""
        self.path = str(path)
        if readonly:
            if not Path(self.path).is_file():
                raise FileNotFoundError(errno.ENOENT, "no such database", self.path)
        elif self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = _Writer(self.path, synchronous, readonly)
        # a read-only store has one connection, which only reads; an in-memory database exists on the writer's
        # connection only, so there it reads too
        self._readers = (None if readonly or self.path == ":memory:" or self.path.startswith("file:")
                         else _Readers(self.path))
        self._planner: OutboxPlanner | None = None
        self._listeners = Listeners()

    def set_planner(self, planner: OutboxPlanner | None) -> None:
        """Turn every stored event into outbox rows with `planner`, in the event's own transaction."""
        self._planner = planner

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call `listener("queued")` / `listener("outbox")` (from the writer thread) when such rows are written."""
        self._listeners.add(listener)

    def _signal(self, topic: str) -> None:
        # called inside the writing job: a reader woken now runs in a later batch, after this commit
        self._listeners.signal(topic)

    def _plan(self, conn: sqlite3.Connection, events: Sequence[PlatformEvent]) -> None:
        """Write the outbox rows the planner wants for `events`, in the transaction that stores them."""
        if self._planner is None or not events:
            return
        now = _ts()
        added = False
        for event in events:
            try:
                items = list(self._planner(event))
            except Exception:  # a planning bug must not make the gateway refuse an aggregator's callback
                log.exception("the outbox planner failed on %s %s", event.type, event.key)
                continue
            for item in items:
                conn.execute(
                    "INSERT INTO outbox (id, target, key, type, payload, next_attempt_at, created_at)"
                    " VALUES (?,?,?,?,?,?,?)",
                    (new_id(), item.target, item.key, item.type, json.dumps(item.payload, ensure_ascii=False,
                                                                             default=str), now, now))
                added = True
        if added:
            self._signal("outbox")

    def _reader(self, conn: sqlite3.Connection) -> Callable[[str], MessageRecord | None] | None:
        """What events need to read their message's payload: only a planner needs it (a read per event)."""
        return None if self._planner is None else (lambda message_id: _get(conn, message_id))

    async def _call(self, fn: Callable[[sqlite3.Connection], T], *, rerunnable: bool = False) -> T:
        return await self._writer.submit_async(fn, rerunnable=rerunnable)

    def call_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` on the writer thread and wait (for synchronous callers such as tests)."""
        return self._writer.submit(fn).result()

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await (self._readers.run(fn) if self._readers is not None else self._call(fn))

    async def close(self) -> None:
        """Finish pending writes and close the file."""
        if self._readers is not None:
            await asyncio.to_thread(self._readers.close)
        await asyncio.to_thread(self._writer.stop)
