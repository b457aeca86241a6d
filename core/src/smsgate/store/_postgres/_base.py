"""The PostgreSQL store's shared state: its pool, LISTEN/NOTIFY wake-ups across instances, the planner."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from ... import _events
from ..._events import PlatformEvent
from ..._http._channellog import ChannelLog
from ..._models import new_id, utcnow
from ...errors import StoreUnavailable
from .._migrations import missing
from .._records import InboundOutcome, OutboxPlanner
from .._shared import Listeners
from ._connection import (
    _TOPICS,
    T,
    _init_connection,
    _no_reset,
    _reason,
    _require_driver,
    _unavailable_errors,
    log,
    migrate_postgres,
    schema_versions,
)
from ._migrations import POSTGRES
from ._rows import _get, _insert_log


class _Base:
    """What every part of the store shares: the pool, the listener connection, the planner, the listeners."""

    def __init__(self, url: str, *, pool_size: int = 10, migrate: bool = False, readonly: bool = False,
                 connect_timeout: float = 5.0, command_timeout: float = 60.0) -> None:
        """Use the database at `url` (`postgresql://user:password@host:port/db?setting=value`)."""
        _require_driver()
        self.url = url
        self.pool_size = pool_size
        self.readonly = readonly
        self.holder = new_id()
        """This store's name on the claims it takes (a renewal only extends this store's own claims)."""
        self._migrate = migrate
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._pool: Any = None
        self._opening: asyncio.Lock | None = None
        self._schema = "public"
        self._planner: OutboxPlanner | None = None
        self._listeners = Listeners()
        self._listen_task: asyncio.Task[None] | None = None
        self._notifying: asyncio.Task[None] | None = None
        self._to_notify: set[str] = set()
        self._closed = False

    def _settings(self) -> dict[str, str]:
        settings = {"application_name": "smsgate"}
        if self.readonly:
            settings["default_transaction_read_only"] = "on"
        return settings

    async def _connect(self) -> Any:
        """One connection outside the pool (for LISTEN)."""
        conn = await _require_driver().connect(self.url, timeout=self._connect_timeout,
                                               server_settings=self._settings())
        await _init_connection(conn)
        return conn

    async def _ready(self) -> Any:
        pool = self._pool
        if pool is not None:
            return pool
        if self._closed:
            raise StoreUnavailable("the store is closed")
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pool is not None:
                return self._pool
            try:
                pool = await _require_driver().create_pool(
                    self.url, min_size=1, max_size=self.pool_size, timeout=self._connect_timeout,
                    command_timeout=self._command_timeout, server_settings=self._settings(),
                    max_inactive_connection_lifetime=120, init=_init_connection, reset=_no_reset)
            except _unavailable_errors() as exc:
                raise StoreUnavailable(f"cannot reach the database: {_reason(exc)}") from None
            try:
                async with pool.acquire() as conn:
                    self._schema = await conn.fetchval("SELECT current_schema()") or "public"
                    if self._migrate and not self.readonly:
                        await migrate_postgres(conn)
                    behind = missing(await schema_versions(conn), POSTGRES)
            except BaseException:
                await pool.close()
                raise
            if behind:
                await pool.close()
                raise StoreUnavailable(
                    f"the database's smsgate schema lacks migration(s) {[m.version for m in behind]}: "
                    "run `smsgate db upgrade`")
            self._pool = pool
            if self._listeners and self._listen_task is None:
                self._listen_task = asyncio.create_task(self._listen(), name="smsgate-store-listen")
            return pool

    async def _run(self, fn: Callable[[Any], Awaitable[T]], *, transaction: bool = True) -> T:
        """Run `fn(connection)` in one transaction (retried on a serialization failure or deadlock); connection
        trouble is `StoreUnavailable`."""
        pool = await self._ready()
        pg = _require_driver()
        unavailable = _unavailable_errors()
        for attempt in range(4):
            try:
                async with pool.acquire(timeout=self._connect_timeout) as conn:
                    if not transaction:
                        return await fn(conn)
                    async with conn.transaction():
                        return await fn(conn)
            except (pg.SerializationError, pg.DeadlockDetectedError) as exc:
                if attempt == 3:
                    raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from None
                await asyncio.sleep(0.01 * (attempt + 1))
            except unavailable as exc:
                raise StoreUnavailable(f"database unavailable: {_reason(exc)}") from None
        raise AssertionError("unreachable")

    async def ping(self) -> bool:
        """Whether the database answers now (`/healthz`)."""
        try:
            return bool(await asyncio.wait_for(self._run(lambda c: c.fetchval("SELECT TRUE"), transaction=False),
                                               self._connect_timeout))
        except (StoreUnavailable, TimeoutError):
            return False

    async def close(self) -> None:
        """Send the last wake-ups, stop listening and close the pool."""
        if self._notifying is not None and not self._notifying.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._notifying, 2)
        self._closed = True
        if self._listen_task is not None:
            self._listen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listen_task
            self._listen_task = None
        if self._pool is not None:
            pool, self._pool = self._pool, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), 10)

    def _channel(self, topic: str) -> str:
        return f"smsgate_{topic}" if self._schema == "public" else f"smsgate_{topic}_{self._schema}"[:63]

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call `listener("queued")` / `listener("outbox")` when any instance commits such rows (LISTEN/NOTIFY)."""
        self._listeners.add(listener)
        if self._pool is not None and self._listen_task is None:
            with contextlib.suppress(RuntimeError):  # no running loop: the pool's opening starts it
                self._listen_task = asyncio.get_running_loop().create_task(self._listen())

    def _signal(self, topic: str) -> None:
        self._listeners.signal(topic)

    async def _listen(self) -> None:
        """Hold a LISTEN connection; reconnect when it drops, and then wake everyone (notifications were lost)."""
        delay = 0.1
        while not self._closed:
            conn = None
            try:
                conn = await self._connect()
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                for topic in _TOPICS:  # our own notifications are skipped: `_woke` told our listeners already
                    await conn.add_listener(self._channel(topic), lambda _c, _pid, _ch, payload, topic=topic:
                                            self._notified(topic, payload))
                delay = 0.1
                for topic in _TOPICS:  # anything committed while we were not listening
                    self._signal(topic)
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), 30)
                    if not lost.is_set():
                        await conn.fetchval("SELECT 1")  # a dead peer is noticed by a query, not by waiting
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("store: LISTEN connection lost (%s); retrying in %.1fs", _reason(exc), delay)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _notified(self, topic: str, payload: str) -> None:
        if payload != self.holder:
            self._signal(topic)

    def _woke(self, topics: set[str]) -> None:
        """After a commit that wrote queued or outbox rows: tell this instance's listeners now, and the other
        instances with NOTIFY from a background task that sends one per topic for however many commits happened
        meanwhile. Not NOTIFY inside each writing transaction: PostgreSQL serialises the commits of notifying
        transactions on one lock, and every write would pay for a wake-up the others need only once. A NOTIFY
        lost to a crash right after a commit costs the other instances one poll interval (1 s)."""
        if not topics:
            return
        for topic in topics:
            self._signal(topic)
        self._to_notify |= topics
        if self._notifying is None or self._notifying.done():
            self._notifying = asyncio.get_running_loop().create_task(self._notify(), name="smsgate-store-notify")

    async def _notify(self) -> None:
        while self._to_notify and not self._closed:
            topics, self._to_notify = self._to_notify, set()
            sql = "; ".join(f"NOTIFY {self._channel(t)}, '{self.holder}'" for t in sorted(topics))

            async def send(conn: Any, sql: str = sql) -> None:
                await conn.execute(sql)

            try:
                await self._run(send, transaction=False)
            except StoreUnavailable:  # the others poll; nothing else depends on it
                return

    def set_planner(self, planner: OutboxPlanner | None) -> None:
        """Turn every stored event into outbox rows with `planner`, in the event's own transaction."""
        self._planner = planner

    async def _plan(self, conn: Any, events: Sequence[PlatformEvent], woke: set[str],
                    clog: ChannelLog | None = None) -> None:
        """Write the outbox rows the planner wants for `events`, in the transaction that stores them, and the
        channel log `clog` in the same statement (one round trip for both)."""
        if self._planner is None or not events:
            if clog is not None:
                await _insert_log(conn, clog)
            return
        rows: list[tuple[str, str, str, str, str]] = []
        for event in events:
            try:
                items = list(self._planner(event))
            except Exception:  # a planning bug must not make the gateway refuse an aggregator's callback
                log.exception("the outbox planner failed on %s %s", event.type, event.key)
                continue
            rows.extend((new_id(), item.target, item.key, item.type,
                         json.dumps(item.payload, ensure_ascii=False, default=str)) for item in items)
        if not rows:
            if clog is not None:
                await _insert_log(conn, clog)
            return
        columns = [list(c) for c in zip(*rows, strict=True)]
        insert = ("INSERT INTO outbox (id, target, key, type, payload, next_attempt_at, created_at)"
                  " SELECT i, t, k, y, p, $6, $6 FROM unnest($1::text[], $2::text[], $3::text[],"
                  " $4::text[], $5::text[]) AS u(i, t, k, y, p)")
        if clog is None:
            await conn.execute(insert, *columns, utcnow())
        else:
            data = clog.as_dict()
            await conn.execute(
                f"WITH o AS ({insert}) INSERT INTO channel_logs (id, channel, kind, message_id, is_error, elapsed_ms,"
                " created_at, data) VALUES ($7, $8, $9, $10, $11, $12, $13, $14)", *columns, utcnow(),
                clog.id, clog.channel, clog.kind, clog.message_id, bool(clog.errors), clog.elapsed_ms,
                datetime.fromisoformat(data["created_at"]), json.dumps(data, ensure_ascii=False))
        woke.add("outbox")

    async def execute(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Run one SQL statement in its own transaction; its rows as dicts (tests and tools, not the gateway)."""

        async def op(conn: Any) -> list[dict[str, Any]]:
            return [dict(r) for r in await conn.fetch(sql, *args)]

        return await self._run(op)

    async def _made_by(self, conn: Any, channel: str, outcome: InboundOutcome) -> tuple[PlatformEvent, ...]:
        """The platform events of one stored outcome, its message read now (in the transaction) when planned."""
        change = outcome.change
        record = None
        if self._planner is not None and change is not None and change.applied and change.message_id is not None:
            record = await _get(conn, change.message_id)
        return _events.made_by(channel, outcome, (lambda _id: record) if self._planner is not None else None)
