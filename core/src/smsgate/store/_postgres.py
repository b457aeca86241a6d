"""The PostgreSQL store: any number of `smsgate serve` instances sharing one database.

Each operation is one transaction on a pooled asyncpg connection; a caller's `await` returns after COMMIT
(PostgreSQL flushes concurrent commits together, so there is no writer thread to batch them here). What
must hold across instances is decided by the database, never by a read followed by a write:

- an inbound (channel, external id) is stored once by a unique index (`ON CONFLICT DO NOTHING`);
- a status moves only forward by a conditional UPDATE comparing ranks in SQL, so two instances applying
  reports of one message at once cannot both win or move it backwards;
- the send worker takes due messages with `FOR UPDATE SKIP LOCKED` and a lease on the database's clock, so
  each message has one sender at a time and a dead instance's messages return when its leases expire;
- the outbox hands out the head of each (target, key) queue the same way; prune runs under an advisory lock;
- wake-ups cross instances with LISTEN/NOTIFY, sent after the commit and coalesced (see `_woke`);
- a channel's `tps` is shared through one row per channel (`rate_slot`), on the database's clock.

Connection trouble raises `StoreUnavailable` (the app answers 503, aggregators retry); the pool reconnects
on its own when the database is back.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import inspect
import json
import logging
import re
import zlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from .. import _events
from .._channellog import ChannelLog
from .._errors import StoreUnavailable
from .._events import PlatformEvent
from .._events import timestamp as _ts
from .._json import loads_stored
from .._models import (
    Event,
    Ignored,
    IncomingMessage,
    MessageRecord,
    OptOut,
    OutgoingMessage,
    SendResult,
    Status,
    StatusUpdate,
    new_id,
    utcnow,
)
from . import _rules
from ._migrations import missing
from ._pg_migrations import MIGRATION_LOCK, POSTGRES
from ._records import (
    Added,
    Backlog,
    Fragment,
    FragmentJoin,
    HourCount,
    InboundOutcome,
    MessagePage,
    OutboxPlanner,
    OutboxRow,
    StatusChange,
)

__all__ = ["PostgresStore", "migrate_postgres", "schema_versions"]

T = TypeVar("T")
log = logging.getLogger("smsgate.store")

_RANK = "CASE {col} " + " ".join(f"WHEN '{s.value}' THEN {s.rank}" for s in Status) + " ELSE -1 END"
"""A status's rank in SQL, from `Status.rank` (the one definition): the never-backwards rule, server-side."""

_MOVES = (f"({_RANK.format(col='$7')} > {_RANK.format(col='old.status')}"
          " OR ($7 = 'errored' AND old.status = 'errored'))")
"""Whether status $7 moves a message now at `old.status` (`_rules.moves`, in SQL)."""

_TOPICS = ("queued", "outbox")


def _require_driver() -> Any:
    """The asyncpg module, imported on first use (a SQLite gateway and the CLI do not pay for it)."""
    try:
        import asyncpg
    except ImportError:  # the `postgresql` extra is not installed
        raise StoreUnavailable("a postgresql:// database needs the asyncpg driver: "
                               "pip install 'smsgate[postgresql]'") from None
    return asyncpg


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    pg = _require_driver()
    return (OSError, TimeoutError, pg.PostgresConnectionError, pg.InterfaceError,
            pg.exceptions.OperatorInterventionError,  # shutdown, cannot connect now, statement timeout
            pg.exceptions.InsufficientResourcesError,  # disk full, too many connections
            pg.exceptions.ReadOnlySQLTransactionError)  # a standby after a failover


def _no_nul(value: str) -> str:
    """PostgreSQL's text cannot hold U+0000 (SQLite's can): it is stored as U+FFFD, so nothing is refused for it."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


async def _init_connection(conn: Any) -> None:
    await conn.set_type_codec("text", schema="pg_catalog", encoder=_no_nul, decoder=str, format="text")


async def _no_reset(conn: Any) -> None:
    """A pooled connection goes back as it came: smsgate sets no session state on it (no SET, no LISTEN, advisory
    locks released in `finally`), so asyncpg's RESET ALL round trip on every release is saved."""


def _lock_key(schema: str, what: str) -> int:
    """A stable signed 64-bit advisory lock key for `what` in `schema` (schemas of one database do not collide)."""
    return zlib.crc32(f"{schema}:{what}".encode()) | (MIGRATION_LOCK << 32)


async def schema_versions(conn: Any) -> set[int]:
    """The migration versions applied to the database `conn` is on (empty when it has no smsgate schema)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}


async def migrate_postgres(conn: Any) -> list[int]:
    """Apply the PostgreSQL migrations the database lacks, in one transaction under an advisory lock; the
    versions applied (empty when it was up to date). Another instance migrating at once waits, then finds
    nothing to do."""
    async with conn.transaction():
        schema = await conn.fetchval("SELECT current_schema()")
        if schema is None:
            raise StoreUnavailable("no schema to create tables in: the search_path names none that exists")
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(schema, "migrate"))
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
                           " name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        done = []
        for migration in missing(await schema_versions(conn), POSTGRES):
            for statement in migration.statements:
                await conn.execute(statement)
            if migration.step is not None:
                result = migration.step(conn)
                if inspect.isawaitable(result):
                    await result
            await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", migration.version,
                               migration.name)
            done.append(migration.version)
    return done


def _when(value: datetime | None) -> str | None:
    return None if value is None else _ts(value)


def _record(row: Any) -> MessageRecord:
    return MessageRecord(
        id=row["id"], channel=row["channel"], direction=row["direction"], to=row["to_addr"],
        from_=row["from_addr"], text=row["text"], status=row["status"],
        external_ids=loads_stored(row["external_ids"]) or ([row["external_id"]] if row["external_id"] else []),
        attachments=loads_stored(row["attachments"]), metadata=loads_stored(row["metadata"]),
        segments=row["segments"], attempts=row["attempts"], error_code=row["error_code"],
        error_reason=row["error_reason"], created_at=_ts(row["created_at"]), updated_at=_ts(row["updated_at"]),
        next_attempt_at=_when(row["next_attempt_at"]), sending_at=_when(row["sending_at"]),
        quick_replies=loads_stored(row["quick_replies"]), high_priority=row["high_priority"])


async def _get(conn: Any, message_id: str) -> MessageRecord | None:
    row = await conn.fetchrow("SELECT * FROM messages WHERE id = $1", message_id)
    return _record(row) if row else None


async def _full(conn: Any, message_id: str) -> MessageRecord | None:
    record = await _get(conn, message_id)
    if record is not None:
        rows = await conn.fetch("SELECT status, applied, external_id, error_code, error_reason, at FROM status_history"
                                " WHERE message_id = $1 ORDER BY seq", message_id)
        record.history = [{**dict(r), "at": _ts(r["at"])} for r in rows]
    return record


async def _claim(conn: Any, message_id: str, lease_seconds: float, holder: str) -> Any:
    return await conn.fetchrow(
        "UPDATE messages SET lease_until = now() + make_interval(secs => $2), lease_holder = $3,"
        " attempts = attempts + 1 WHERE id = $1 AND direction = 'out' AND status IN ('queued', 'errored')"
        " AND (lease_until IS NULL OR lease_until < now()) RETURNING *", message_id, lease_seconds, holder)


async def _apply_status(conn: Any, message_id: str, channel: str, status: Status, external_id: str | None,
                        error_code: str | None, error_reason: str | None, at: datetime) -> StatusChange:
    # The rule is decided by the UPDATE itself: it matches only when the new status ranks above the stored one
    # (or both are errored), with the stored row locked, so concurrent reports serialise on the row.
    previous_value = await conn.fetchval(
        "UPDATE messages m SET status = $2, updated_at = $3, error_code = COALESCE($4, m.error_code),"
        " error_reason = COALESCE($5, m.error_reason)"
        " FROM (SELECT id, status FROM messages WHERE id = $1 FOR UPDATE) old WHERE m.id = old.id"
        f" AND ({_RANK.format(col='$2')} > {_RANK.format(col='old.status')}"
        " OR ($2 = 'errored' AND old.status = 'errored')) RETURNING old.status",
        message_id, status.value, utcnow(), error_code, error_reason)
    applied = previous_value is not None
    if not applied:
        # lock the row too, so two instances recording the same stale report cannot both add it to the history
        previous_value = await conn.fetchval("SELECT status FROM messages WHERE id = $1 FOR UPDATE", message_id)
    previous = Status(previous_value)
    seen = not applied and previous is not status and status is not Status.ERRORED and await conn.fetchval(
        "SELECT 1 FROM status_history WHERE message_id = $1 AND status = $2 LIMIT 1", message_id,
        status.value) is not None
    if _rules.recorded(previous, status, applied, seen):
        await conn.execute(
            "INSERT INTO status_history (message_id, channel, status, applied, external_id, error_code, error_reason,"
            " at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
            message_id, channel, status.value, applied, external_id, error_code, error_reason, at)
    return StatusChange(message_id, previous, status if applied else previous, applied)


async def _insert_log(conn: Any, clog: ChannelLog) -> None:
    data = clog.as_dict()
    await conn.execute(
        "INSERT INTO channel_logs (id, channel, kind, message_id, is_error, elapsed_ms, created_at, data)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        clog.id, clog.channel, clog.kind, clog.message_id, bool(clog.errors), clog.elapsed_ms,
        datetime.fromisoformat(data["created_at"]), json.dumps(data, ensure_ascii=False))


async def _store_event(conn: Any, channel: str, event: Event, clog: ChannelLog | None = None) -> InboundOutcome:
    if isinstance(event, IncomingMessage):
        now = utcnow()
        created = await conn.fetchval(
            "INSERT INTO messages (id, channel, direction, to_addr, from_addr, text, status, external_id,"
            " external_ids, attachments, metadata, created_at, updated_at)"
            " VALUES ($1,$2,'in',$3,$4,$5,'received',$6,$7,$8,$9,$10,$10) ON CONFLICT DO NOTHING RETURNING TRUE",
            event.id, channel, event.to, event.from_, event.text, event.external_id,
            json.dumps([event.external_id] if event.external_id else []), json.dumps(event.attachments),
            json.dumps({"received_at": _ts(event.received_at), "raw": event.raw}, default=str), now)
        if created:
            if clog is not None and clog.message_id is None:
                clog.message_id = event.id
            return InboundOutcome(event)
        # the unique index refused it (another request, maybe on another instance, stored it first)
        stored = await conn.fetchval("SELECT id FROM messages WHERE channel = $1 AND direction = 'in'"
                                     " AND external_id = $2", channel, event.external_id)
        if stored is not None:  # a retried delivery: answer with the id stored the first time
            event.id = stored
            if clog is not None and clog.message_id is None:
                clog.message_id = event.id
        return InboundOutcome(event, created=False)
    if isinstance(event, StatusUpdate):
        # every lookup is scoped to the channel the report arrived on (see the SQLite store); each answers the
        # message's external ids too, which the rule for messages sent in parts needs
        found = None
        if event.message_id is not None:
            found = await conn.fetchrow("SELECT id, external_ids FROM messages WHERE id = $1 AND channel = $2"
                                        " AND direction = 'out'", event.message_id, channel)
        if found is None and event.external_id:
            found = await _by_external_id(conn, channel, event.external_id)
            if found is None:
                # The send that got this id may be committing on another instance right now (a fast SMSC's
                # receipt overtaking the answer): record_send holds this lock from storing its external ids to
                # its commit, so after it either the id is visible here, or this orphan is visible to it.
                await _lock(conn, f"ext:{channel}:{event.external_id}")
                found = await _by_external_id(conn, channel, event.external_id)
        if found is None:
            reference = event.external_id or event.message_id
            if clog is not None:
                clog.error(f"status report {event.status.value!r} names no message of channel {channel!r} "
                           f"(id {event.message_id or '-'}, external id {event.external_id or '-'}): recorded, "
                           "nothing changed")
            if not event.external_id:  # once, even when two instances get the same orphan report at once
                await _lock(conn, f"ext:{channel}:{reference}")
            if await conn.fetchval(
                    "SELECT 1 FROM status_history WHERE message_id IS NULL AND channel = $1"
                    " AND external_id IS NOT DISTINCT FROM $2 AND status = $3 LIMIT 1",
                    channel, reference, event.status.value) is None:
                await conn.execute(
                    "INSERT INTO status_history (message_id, channel, status, applied, external_id, error_code,"
                    " error_reason, at) VALUES (NULL,$1,$2,FALSE,$3,$4,$5,$6)",
                    channel, event.status.value, reference, event.error_code, event.error_reason, event.at)
            return InboundOutcome(event, created=False, change=StatusChange(None, None, None, False))
        message_id = found["id"]
        if clog is not None and clog.message_id is None:
            clog.message_id = message_id
        status = await _part_status(conn, message_id, channel, event, loads_stored(found["external_ids"]))
        change = await _apply_status(conn, message_id, channel, status, event.external_id, event.error_code,
                                     event.error_reason, event.at)
        return InboundOutcome(event, created=change.applied, change=change)
    if isinstance(event, OptOut):
        await conn.execute("INSERT INTO opt_outs (channel, address, reason, at) VALUES ($1,$2,$3,$4)",
                           channel, event.address, event.reason, event.at)
        return InboundOutcome(event)
    if isinstance(event, Ignored):
        return InboundOutcome(event, created=False)
    raise TypeError(f"not an event: {event!r}")


async def _lock(conn: Any, name: str) -> None:
    """Hold advisory lock `name` until this transaction ends (what two instances must not do at once)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", name)


async def _by_external_id(conn: Any, channel: str, external_id: str) -> Any:
    return await conn.fetchrow("SELECT m.id, m.external_ids FROM external_ids e JOIN messages m ON m.id = e.message_id"
                               " WHERE e.channel = $1 AND e.external_id = $2", channel, external_id)


async def _part_status(conn: Any, message_id: str, channel: str, event: StatusUpdate, external_ids: list[str]
                       ) -> Status:
    """`event`'s status under the rule for messages sent in parts (`_rules.part_status`); a part's `delivered`
    that does not complete the message is kept in the history as such.

    The message's row is locked first, so the reports of two parts applied at once by two instances are
    decided one after the other: the second sees the first's part delivered (not both `sent` for ever).
    """
    if event.status is not Status.DELIVERED or not event.external_id or len(set(external_ids)) < 2:
        return event.status
    stored = await conn.fetchval("SELECT external_ids FROM messages WHERE id = $1 FOR UPDATE", message_id)
    parts = set(loads_stored(stored)) if stored else set()
    delivered = {r["external_id"] for r in await conn.fetch(
        "SELECT external_id FROM status_history WHERE message_id = $1 AND status = 'delivered'", message_id)}
    status = _rules.part_status(event.status, event.external_id, parts, delivered)
    if status is not event.status and event.external_id not in delivered:
        await conn.execute("INSERT INTO status_history (message_id, channel, status, applied, external_id, at)"
                           " VALUES ($1, $2, 'delivered', FALSE, $3, $4)", message_id, channel, event.external_id,
                           event.at)
    return status


_EARLY_REPORT_SECONDS = 600


async def _adopt_early_reports(conn: Any, channel: str, orphans: Sequence[Any]) -> list[InboundOutcome]:
    """Apply reports kept as orphans for the external ids a send has just stored (see the SQLite store)."""
    outcomes = []
    for row in orphans:
        await conn.execute("DELETE FROM status_history WHERE seq = $1", row["seq"])
        event = StatusUpdate(channel, Status(row["status"]), external_id=row["external_id"],
                             error_code=row["error_code"], error_reason=row["error_reason"], at=row["at"])
        outcomes.append(await _store_event(conn, channel, event))
    return outcomes


def _filters(**values: str | None) -> tuple[str, list[str]]:
    parts = [(k, v) for k, v in values.items() if v is not None]
    if not parts:
        return "", []
    return " WHERE " + " AND ".join(f"{k} = ${i}" for i, (k, _) in enumerate(parts, 1)), [v for _, v in parts]


class PostgresStore:
    """The shared store: PostgreSQL through an asyncpg pool, for one or many `smsgate serve` instances.

    The pool opens on first use, in the event loop that uses it. `migrate=True` applies missing migrations
    then (what tests and `smsgate db upgrade` do); otherwise a database whose schema is behind this smsgate
    refuses every operation with `StoreUnavailable` naming `smsgate db upgrade`.
    """

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
        self._listeners: list[Callable[[str], None]] = []
        self._listen_task: asyncio.Task[None] | None = None
        self._notifying: asyncio.Task[None] | None = None
        self._to_notify: set[str] = set()
        self._closed = False

    # -- connections ------------------------------------------------------------------------------------

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

    # -- wake-ups -----------------------------------------------------------------------------------------

    def _channel(self, topic: str) -> str:
        return f"smsgate_{topic}" if self._schema == "public" else f"smsgate_{topic}_{self._schema}"[:63]

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call `listener("queued")` / `listener("outbox")` when any instance commits such rows (LISTEN/NOTIFY)."""
        self._listeners.append(listener)
        if self._pool is not None and self._listen_task is None:
            with contextlib.suppress(RuntimeError):  # no running loop: the pool's opening starts it
                self._listen_task = asyncio.get_running_loop().create_task(self._listen())

    def _signal(self, topic: str) -> None:
        for listener in self._listeners:
            try:
                listener(topic)
            except Exception:
                log.exception("a store listener failed")

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

    # -- the outbox planner -------------------------------------------------------------------------------

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

    # -- outgoing -----------------------------------------------------------------------------------------

    async def add_outgoing(self, message: OutgoingMessage, claim_for: float | None = None) -> Added:
        """Store a new queued message (a known id: the stored one, not created); claim it if `claim_for`
        seconds are given, in the same transaction."""

        woke: set[str] = set()

        async def op(conn: Any) -> Added:
            now = utcnow()
            # the message, claimed if asked, and its first history row: one statement
            row = await conn.fetchrow(
                "WITH m AS (INSERT INTO messages (id, channel, direction, to_addr, from_addr, text, status,"
                " attachments, metadata, quick_replies, high_priority, created_at, updated_at, attempts, lease_until,"
                " lease_holder) VALUES ($1,$2,'out',$3,$4,$5,'queued',$6,$7,$8,$9,$10,$10,"
                " CASE WHEN $11::float8 IS NULL THEN 0 ELSE 1 END,"
                " CASE WHEN $11::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $11) END,"
                " CASE WHEN $11::float8 IS NULL THEN NULL ELSE $12 END)"
                " ON CONFLICT (id) DO NOTHING RETURNING *),"
                " h AS (INSERT INTO status_history (message_id, channel, status, applied, at)"
                " SELECT id, channel, 'queued', TRUE, created_at FROM m)"
                " SELECT * FROM m",
                message.id, message.channel, message.to, message.from_, message.text,
                json.dumps(message.attachments), json.dumps(message.metadata), json.dumps(message.quick_replies),
                message.high_priority, now, claim_for, self.holder)
            created = row is not None
            claimed = created and claim_for is not None
            if not created:
                if claim_for is not None:
                    row = await _claim(conn, message.id, claim_for, self.holder)
                    claimed = row is not None
                if row is None:
                    row = await conn.fetchrow("SELECT * FROM messages WHERE id = $1", message.id)
            record = _record(row)
            events: tuple[PlatformEvent, ...] = ()
            if created:
                update = StatusUpdate(message.channel, Status.QUEUED, message.id, at=now)
                events = (_events.status_changed(message.channel, update, None, Status.QUEUED, record),)
                await self._plan(conn, events, woke)
                woke.add("queued")
            return Added(record, created, claimed, events)

        # without a planner a new message is one statement: no transaction around it
        added = await self._run(op, transaction=self._planner is not None)
        self._woke(woke)
        return added

    async def claim(self, message_id: str, lease_seconds: float = 300) -> MessageRecord | None:
        """Take a queued or errored message for sending; None if wired, final or leased by another worker."""

        async def op(conn: Any) -> MessageRecord | None:
            row = await _claim(conn, message_id, lease_seconds, self.holder)
            return _record(row) if row else None

        return await self._run(op, transaction=False)  # one statement

    async def claim_due(self, channel: str, *, limit: int = 100, lease_seconds: float = 300) -> list[MessageRecord]:
        """Claim up to `limit` due messages of `channel`, oldest first; rows another instance is claiming right
        now are skipped (SKIP LOCKED), never waited for or taken twice."""

        async def op(conn: Any) -> list[MessageRecord]:
            rows = await conn.fetch(
                "WITH due AS (SELECT id FROM messages WHERE channel = $1 AND direction = 'out'"
                " AND status IN ('queued', 'errored') AND (lease_until IS NULL OR lease_until < now())"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= now()) ORDER BY created_at, seq LIMIT $2"
                " FOR UPDATE SKIP LOCKED)"
                " UPDATE messages m SET lease_until = now() + make_interval(secs => $3), lease_holder = $4,"
                " attempts = m.attempts + 1 FROM due WHERE m.id = due.id RETURNING m.*",
                channel, limit, lease_seconds, self.holder)
            return [_record(r) for r in sorted(rows, key=lambda r: (r["created_at"], r["seq"]))]

        return await self._run(op, transaction=False)  # one statement

    async def due(self, channel: str, *, limit: int = 100) -> list[MessageRecord]:
        """Pending messages of `channel` the worker may attempt now (unclaimed, past their backoff), oldest first."""

        async def op(conn: Any) -> list[MessageRecord]:
            rows = await conn.fetch(
                "SELECT * FROM messages WHERE channel = $1 AND direction = 'out' AND status IN ('queued', 'errored')"
                " AND (lease_until IS NULL OR lease_until < now())"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= now()) ORDER BY created_at, seq LIMIT $2",
                channel, limit)
            return [_record(r) for r in rows]

        return await self._run(op, transaction=False)

    async def renew(self, message_id: str, lease_seconds: float) -> bool:
        """Extend this store's live claim; False when the message is no longer claimed by it."""

        async def op(conn: Any) -> bool:
            result = await conn.execute(
                "UPDATE messages SET lease_until = now() + make_interval(secs => $2) WHERE id = $1"
                " AND lease_holder = $3 AND lease_until IS NOT NULL AND status IN ('queued', 'errored')",
                message_id, lease_seconds, self.holder)
            return bool(result == "UPDATE 1")

        return await self._run(op, transaction=False)

    async def mark_sending(self, message_id: str) -> bool:
        """Record that a request of the current claim is going out (the send is in doubt until its outcome);
        False when this store no longer holds the claim: an instance that stalled past its lease, which another
        instance then took, must not send the message too. (Once marked, a claim taken over later finds the
        mark and treats the message as in doubt.)"""

        async def op(conn: Any) -> bool:
            return bool(await conn.fetchval(
                "UPDATE messages SET sending_at = COALESCE(sending_at, now()) WHERE id = $1 AND lease_holder = $2"
                " AND status IN ('queued', 'errored') RETURNING TRUE", message_id, self.holder))

        return await self._run(op, transaction=False)

    async def clear_in_doubt(self, message_id: str) -> None:
        """Forget that an unclaimed message's last request went out, so it is retried."""
        await self._run(lambda conn: conn.execute(
            "UPDATE messages SET sending_at = NULL WHERE id = $1 AND (lease_until IS NULL OR lease_until < now())",
            message_id), transaction=False)

    async def schedule_retry(self, message_id: str, at: datetime) -> None:
        """Do not attempt an errored message again before `at`."""
        await self._run(lambda conn: conn.execute(
            "UPDATE messages SET next_attempt_at = $2 WHERE id = $1 AND status = 'errored'", message_id, at),
            transaction=False)

    async def record_send(self, message_id: str, result: SendResult, log: ChannelLog | None) -> StatusChange:
        """Store a send's outcome, external ids, events and channel log; release the claim."""
        woke: set[str] = set()

        async def op(conn: Any) -> StatusChange:
            # One UPDATE releases the claim, stores the outcome and applies the status by rank (the row locked),
            # answering with the status before and the row after; one more statement records the history row
            # and the channel log and reads the history back: 4 round trips with BEGIN and COMMIT, not 10.
            now = utcnow()
            status = result.status
            row = await conn.fetchrow(
                "UPDATE messages m SET lease_until = NULL, lease_holder = NULL, sending_at = NULL,"
                " next_attempt_at = NULL, segments = $2, external_id = COALESCE($3, m.external_id),"
                " external_ids = $4, error_code = $5, error_reason = $6,"
                f" status = CASE WHEN {_MOVES} THEN $7 ELSE old.status END,"
                f" updated_at = CASE WHEN {_MOVES} THEN $8 ELSE m.updated_at END"
                " FROM (SELECT id, status FROM messages WHERE id = $1 FOR UPDATE) old WHERE m.id = old.id"
                # the locks of the external ids, in one order (see below), in the same round trip
                " RETURNING (SELECT count(pg_advisory_xact_lock(hashtextextended('ext:' || m.channel || ':' || e, 0)))"
                " FROM unnest($9::text[]) AS e) AS locked, old.status AS previous_status, m.*",
                message_id, result.segments, result.external_ids[0] if result.external_ids else None,
                json.dumps(result.external_ids), result.error_code, result.error_reason, status.value, now,
                sorted(set(result.external_ids)))
            if row is None:
                raise KeyError(message_id)
            channel = row["channel"]
            previous = Status(row["previous_status"])
            applied = row["status"] == status.value and _rules.moves(previous, status)
            orphans: list[Any] = []
            if result.external_ids:
                # Reports that overtook this answer (a fast SMSC's receipt, maybe on another instance) are kept
                # as orphans; one arriving while this commits waits on the locks the UPDATE took, then finds the
                # external id (see _store_event). Taken in one order, so two sends never wait on each other.
                ids = sorted(set(result.external_ids))
                # a statement after the locks: it sees every orphan committed before them
                orphans = await conn.fetch(
                    "WITH e AS (INSERT INTO external_ids (channel, external_id, message_id)"
                    " SELECT $1, e, $3 FROM unnest($2::text[]) AS e"
                    " ON CONFLICT (channel, external_id) DO UPDATE SET message_id = EXCLUDED.message_id)"
                    " SELECT seq, status, external_id, error_code, error_reason, at FROM status_history"
                    " WHERE message_id IS NULL AND channel = $1 AND external_id = ANY($2::text[]) AND at >= $4"
                    " ORDER BY seq", channel, ids, message_id, now - timedelta(seconds=_EARLY_REPORT_SECONDS))
            seen = not applied and previous is not status and status is not Status.ERRORED and await conn.fetchval(
                "SELECT 1 FROM status_history WHERE message_id = $1 AND status = $2 LIMIT 1", message_id,
                status.value) is not None
            recorded = _rules.recorded(previous, status, applied, seen)
            if orphans and recorded:  # the send's own history row comes before the reports it makes apply
                await conn.execute(
                    "INSERT INTO status_history (message_id, channel, status, applied, error_code, error_reason,"
                    " at) VALUES ($1, $2, $3, $4, $5, $6, $7)", message_id, channel, status.value, applied,
                    result.error_code, result.error_reason, now)
                recorded = False
            outcomes = await _adopt_early_reports(conn, channel, orphans)
            outcomes += [await _store_event(conn, channel, event) for event in result.events]
            data = log.as_dict() if log is not None else None
            history = await conn.fetch(
                "WITH h AS (INSERT INTO status_history (message_id, channel, status, applied, error_code,"
                " error_reason, at) SELECT $1::text, $2::text, $3::text, $4::boolean, $5::text, $6::text,"
                " $7::timestamptz WHERE $8::boolean"
                " RETURNING seq, status, applied, external_id, error_code, error_reason, at),"
                " l AS (INSERT INTO channel_logs (id, channel, kind, message_id, is_error, elapsed_ms, created_at,"
                " data) SELECT $9::text, $10::text, $11::text, $12::text, $13::boolean, $14::float8,"
                " $15::timestamptz, $16::text WHERE $16::text IS NOT NULL)"
                " SELECT seq, status, applied, external_id, error_code, error_reason, at FROM status_history"
                " WHERE message_id = $1 UNION ALL SELECT * FROM h ORDER BY seq",
                message_id, channel, status.value, applied, result.error_code, result.error_reason, now, recorded,
                *((log.id, log.channel, log.kind, log.message_id, bool(log.errors), log.elapsed_ms,
                   datetime.fromisoformat(data["created_at"]), json.dumps(data, ensure_ascii=False))
                  if log is not None and data is not None else (None,) * 8))
            sent = _record(row)  # the message as this send left it, for its own event's payload
            record = sent if not orphans else await _get(conn, message_id)  # and as the reports left it
            assert record is not None
            record.history = [{k: (_ts(v) if k == "at" else v) for k, v in r.items() if k != "seq"}
                              for r in history]
            current = status if applied else previous
            events: list[PlatformEvent] = []
            if applied:
                update = StatusUpdate(channel, status, message_id, error_code=result.error_code,
                                      error_reason=result.error_reason)
                events.append(_events.status_changed(channel, update, previous, status, sent))
            for outcome in outcomes:
                events.extend(await self._made_by(conn, channel, outcome))
            await self._plan(conn, events, woke)
            return StatusChange(message_id, previous, current, applied, record, tuple(events))

        change = await self._run(op)
        self._woke(woke)
        return change

    async def fail_message(self, message_id: str, error_code: str, error_reason: str, *,
                           held: bool = False) -> StatusChange:
        """Make a pending message `failed` (the worker gave up): an unclaimed one, or with `held` one this
        store claimed and did not attempt (that claim's count is taken back); unapplied if it is not pending
        (or someone else holds it)."""
        woke: set[str] = set()

        async def op(conn: Any) -> StatusChange:
            channel = await conn.fetchval(
                "UPDATE messages SET lease_until = NULL, lease_holder = NULL, sending_at = NULL,"
                " next_attempt_at = NULL, error_code = $2, error_reason = $3,"
                " attempts = GREATEST(attempts - CASE WHEN $4 THEN 1 ELSE 0 END, 0)"
                " WHERE id = $1 AND direction = 'out'"
                " AND status IN ('queued', 'errored')"
                " AND (lease_until IS NULL OR lease_until < now() OR ($4 AND lease_holder = $5)) RETURNING channel",
                message_id, error_code, error_reason, held, self.holder)
            if channel is None:
                status = await conn.fetchval("SELECT status FROM messages WHERE id = $1", message_id)
                current = Status(status) if status in {s.value for s in Status} else None
                return StatusChange(message_id if status is not None else None, current, current, False)
            change = await _apply_status(conn, message_id, channel, Status.FAILED, None, error_code, error_reason,
                                         utcnow())
            if not change.applied:
                return change
            update = StatusUpdate(channel, Status.FAILED, message_id, error_code=error_code, error_reason=error_reason)
            record = await _get(conn, message_id) if self._planner is not None else None
            events = (_events.status_changed(channel, update, change.previous, Status.FAILED, record),)
            await self._plan(conn, events, woke)
            return StatusChange(change.message_id, change.previous, change.current, True, None, events)

        change = await self._run(op)
        self._woke(woke)
        return change

    # -- inbound ------------------------------------------------------------------------------------------

    async def _made_by(self, conn: Any, channel: str, outcome: InboundOutcome) -> tuple[PlatformEvent, ...]:
        """The platform events of one stored outcome, its message read now (in the transaction) when planned."""
        change = outcome.change
        record = None
        if self._planner is not None and change is not None and change.applied and change.message_id is not None:
            record = await _get(conn, change.message_id)
        return _events.made_by(channel, outcome, (lambda _id: record) if self._planner is not None else None)

    async def record_inbound(self, channel: str, events: Sequence[Event], log: ChannelLog | None
                             ) -> list[InboundOutcome]:
        """Store every event of one inbound request in one transaction; status lookups only within `channel`."""
        woke: set[str] = set()

        async def op(conn: Any) -> list[InboundOutcome]:
            return await self._store_events(conn, channel, events, log, woke, log)

        outcomes = await self._run(op)
        self._woke(woke)
        return outcomes

    async def _store_events(self, conn: Any, channel: str, events: Sequence[Event], log: ChannelLog | None,
                            woke: set[str], insert_log: ChannelLog | None = None) -> list[InboundOutcome]:
        """Store inbound events, each outcome with the platform events it makes, planned in this transaction
        (with `insert_log` written in the planning statement)."""
        outcomes = []
        for event in events:
            outcome = await _store_event(conn, channel, event, log)
            made = await self._made_by(conn, channel, outcome)
            outcomes.append(InboundOutcome(outcome.event, outcome.created, outcome.change, made)
                            if made else outcome)
        await self._plan(conn, [e for outcome in outcomes for e in outcome.platform_events], woke, insert_log)
        return outcomes

    async def add_log(self, log: ChannelLog) -> None:
        """Store a channel log on its own."""
        await self._run(lambda conn: _insert_log(conn, log), transaction=False)

    async def add_fragment(self, channel: str, fragment: Fragment, join: FragmentJoin, log: ChannelLog | None
                           ) -> tuple[bool, list[InboundOutcome]]:
        """Durably keep one part; when all parts of its key are in, store `join(parts)`'s events in the same
        transaction. (False for a part already held; the stored outcomes, or [] while parts are missing.)

        As the SQLite store does (see there), with the parts of one key decided one transaction at a time (an
        advisory lock): two instances getting the last two parts at once cannot both wait for the other's.
        """
        data = json.dumps(fragment.data, sort_keys=True, ensure_ascii=False)
        woke: set[str] = set()

        async def held_parts(conn: Any) -> list[Fragment]:
            rows = await conn.fetch("SELECT idx, total, data FROM fragments WHERE channel = $1 AND key = $2"
                                    " AND joined_at IS NULL ORDER BY idx", channel, fragment.key)
            return [Fragment(fragment.key, r["idx"], r["total"], loads_stored(r["data"])) for r in rows]

        async def op(conn: Any) -> tuple[bool, list[InboundOutcome]]:
            await _lock(conn, f"fragment:{channel}:{fragment.key}")
            outcomes: list[InboundOutcome] = []
            held = await conn.fetchrow("SELECT data, total FROM fragments WHERE channel = $1 AND key = $2"
                                       " AND idx = $3", channel, fragment.key, fragment.index)
            if held is not None and held["data"] == data and held["total"] == fragment.total:
                if log is not None:
                    await _insert_log(conn, log)
                return False, outcomes
            if held is not None:  # the key now names another message: finish the old one as it is
                leftover = await held_parts(conn)
                if leftover:
                    outcomes += await self._store_events(conn, channel, join(leftover), log, woke)
                await conn.execute("DELETE FROM fragments WHERE channel = $1 AND key = $2", channel, fragment.key)
            else:  # parts of a finished message with this key (other positions) belong to that one
                await conn.execute("DELETE FROM fragments WHERE channel = $1 AND key = $2 AND joined_at IS NOT NULL",
                                   channel, fragment.key)
            now = utcnow()
            await conn.execute("INSERT INTO fragments (channel, key, idx, total, data, created_at)"
                               " VALUES ($1, $2, $3, $4, $5, $6)", channel, fragment.key, fragment.index,
                               fragment.total, data, now)
            present = await held_parts(conn)
            if len(present) >= fragment.total:
                outcomes += await self._store_events(conn, channel, join(present), log, woke)
                await conn.execute("UPDATE fragments SET joined_at = $3 WHERE channel = $1 AND key = $2", channel,
                                   fragment.key, now)
            if log is not None:
                await _insert_log(conn, log)
            return True, outcomes

        result = await self._run(op)
        self._woke(woke)
        return result

    async def known_inbound(self, channel: str, external_ids: Sequence[str]) -> set[str]:
        """Which of `external_ids` are stored incoming messages of `channel`."""
        ids = list(external_ids)
        if not ids:
            return set()

        async def op(conn: Any) -> set[str]:
            return {r["external_id"] for r in await conn.fetch(
                "SELECT external_id FROM messages WHERE channel = $1 AND direction = 'in'"
                " AND external_id = ANY($2::text[])", channel, ids)}

        return await self._run(op, transaction=False)

    # -- leases -------------------------------------------------------------------------------------------

    async def lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew lease `name` for `holder` for `seconds`; False while another holder's lease is live.

        One statement on the database's clock: two instances asking at once are decided by the row's lock."""

        async def op(conn: Any) -> bool:
            return bool(await conn.fetchval(
                "INSERT INTO leases AS l (name, holder, until) VALUES ($1, $2, now() + make_interval(secs => $3))"
                " ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until"
                " WHERE l.holder = EXCLUDED.holder OR l.until < now() RETURNING TRUE", name, holder, seconds))

        return await self._run(op, transaction=False)

    async def release(self, name: str, holder: str) -> None:
        """Give lease `name` up if `holder` holds it."""
        await self._run(lambda conn: conn.execute("DELETE FROM leases WHERE name = $1 AND holder = $2", name,
                                                  holder), transaction=False)

    # -- reads --------------------------------------------------------------------------------------------

    async def get_message(self, message_id: str) -> MessageRecord | None:
        """One message with its status history, or None."""
        return await self._run(lambda conn: _full(conn, message_id), transaction=False)

    async def list_messages(self, *, channel: str | None = None, status: str | None = None,
                            direction: str | None = None, limit: int = 50) -> list[MessageRecord]:
        """Messages newest first, optionally filtered."""
        where, args = _filters(channel=channel, status=status, direction=direction)

        async def op(conn: Any) -> list[MessageRecord]:
            rows = await conn.fetch(f"SELECT * FROM messages{where} ORDER BY created_at DESC, seq DESC"
                                    f" LIMIT ${len(args) + 1}", *args, limit)
            return [_record(r) for r in rows]

        return await self._run(op, transaction=False)

    async def list_logs(self, *, channel: str | None = None, message_id: str | None = None,
                        errors_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        """Channel logs newest first (already redacted when they were recorded)."""
        where, args = _filters(channel=channel, message_id=message_id)
        if errors_only:
            where += (" AND" if where else " WHERE") + " is_error"

        async def op(conn: Any) -> list[dict[str, Any]]:
            rows = await conn.fetch(f"SELECT data FROM channel_logs{where} ORDER BY seq DESC LIMIT ${len(args) + 1}",
                                    *args, limit)
            return [loads_stored(r["data"]) for r in rows]

        return await self._run(op, transaction=False)

    async def opt_outs(self, *, channel: str | None = None) -> list[dict[str, Any]]:
        """Stored opt-out events, oldest first."""
        where, args = _filters(channel=channel)

        async def op(conn: Any) -> list[dict[str, Any]]:
            rows = await conn.fetch(f"SELECT channel, address, reason, at FROM opt_outs{where} ORDER BY seq", *args)
            return [{**dict(r), "at": _ts(r["at"])} for r in rows]

        return await self._run(op, transaction=False)

    # -- the outbox ---------------------------------------------------------------------------------------

    async def outbox_due(self, *, limit: int = 100, lease_seconds: float = 60) -> list[OutboxRow]:
        """Take the first undelivered item of each (target, key) that is due, oldest first; items another
        instance holds, or is taking right now, are skipped."""

        async def op(conn: Any) -> list[OutboxRow]:
            # only the head of each (target, key) queue: a later event never overtakes an earlier one
            rows = await conn.fetch(
                "WITH due AS (SELECT o.seq FROM outbox o WHERE o.done_at IS NULL AND o.next_attempt_at <= now()"
                " AND (o.lease_until IS NULL OR o.lease_until < now())"
                " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.target = o.target AND p.key = o.key"
                " AND p.done_at IS NULL AND p.seq < o.seq) ORDER BY o.seq LIMIT $1 FOR UPDATE SKIP LOCKED)"
                " UPDATE outbox u SET lease_until = now() + make_interval(secs => $2) FROM due WHERE u.seq = due.seq"
                " RETURNING u.*", limit, lease_seconds)
            return [OutboxRow(id=r["id"], seq=r["seq"], target=r["target"], key=r["key"], type=r["type"],
                              payload=loads_stored(r["payload"]), attempts=r["attempts"],
                              created_at=_ts(r["created_at"])) for r in sorted(rows, key=lambda r: r["seq"])]

        return await self._run(op, transaction=False)  # one statement

    async def outbox_done(self, item_id: str) -> None:
        """Mark an outbox item delivered."""
        await self._run(lambda conn: conn.execute(
            "UPDATE outbox SET done_at = now(), lease_until = NULL, attempts = attempts + 1, last_error = NULL"
            " WHERE id = $1", item_id), transaction=False)

    async def outbox_retry(self, item_id: str, at: datetime, error: str) -> None:
        """Release an outbox item after a failed delivery; try again at `at`."""
        await self._run(lambda conn: conn.execute(
            "UPDATE outbox SET lease_until = NULL, attempts = attempts + 1, next_attempt_at = $2, last_error = $3"
            " WHERE id = $1", item_id, at, error), transaction=False)

    async def outbox_renew(self, item_ids: Sequence[str], lease_seconds: float) -> None:
        """Extend the leases of items a dispatcher took and is still delivering (on the database's clock)."""
        ids = list(item_ids)
        if not ids:
            return
        await self._run(lambda conn: conn.execute(
            "UPDATE outbox SET lease_until = now() + make_interval(secs => $2) WHERE id = ANY($1::text[])"
            " AND done_at IS NULL AND lease_until IS NOT NULL", ids, lease_seconds), transaction=False)

    async def outbox_release(self) -> None:
        """Release every outbox claim: only for an operator who knows no dispatcher runs (claims otherwise expire)."""
        await self._run(lambda conn: conn.execute(
            "UPDATE outbox SET lease_until = NULL WHERE done_at IS NULL AND lease_until IS NOT NULL"))

    async def outbox_items(self, *, pending: bool | None = None, limit: int = 100, newest_first: bool = False
                           ) -> list[dict[str, Any]]:
        """Outbox items oldest (or newest) first, optionally only pending (True) or delivered (False) ones."""
        where = {None: "", True: " WHERE done_at IS NULL", False: " WHERE done_at IS NOT NULL"}[pending]
        order = " DESC" if newest_first else ""

        async def op(conn: Any) -> list[dict[str, Any]]:
            return [_outbox_item(r) for r in await conn.fetch(
                f"SELECT * FROM outbox{where} ORDER BY seq{order} LIMIT $1", limit)]

        return await self._run(op, transaction=False)

    # -- reads for operators (the console, /metrics): each served by an index, none a full scan -------------

    async def find_messages(self, *, channel: str | None = None, direction: str | None = None,
                            status: str | None = None, number: str | None = None, text: str | None = None,
                            cursor: str | None = None, limit: int = 50) -> MessagePage:
        """Messages newest first matching every filter given (`number`: the contact, `text`: a substring,
        case-insensitive), from `cursor` on; ValueError for a cursor this store did not make.

        The SQLite store's plan on (created_at, seq): keyset pagination over an index (by channel, by contact,
        by status, by direction, or by time), the filters it does not serve examining at most `_SCAN` of the
        rows it yields per page.
        """
        # conditions as (SQL with `?` for each value, values): each query numbers its own ($1, $2, ...)
        Condition = tuple[str, tuple[Any, ...]]
        indexed: list[Condition] = []  # served by an index: channel, contact, the cursor on (created_at, seq)
        if channel:
            indexed.append(("channel = ?", (channel,)))
        if number:
            indexed.append((f"{_CONTACT} = ?", (number,)))
        if not indexed and status:  # messages_by_status: a rare status is found at once, however old
            indexed.append(("status = ?", (status,)))
            status = None
        if not indexed and direction:  # messages_by_direction
            indexed.append(("direction = ?", (direction,)))
            direction = None
        if cursor is not None:
            indexed.append(("(created_at, seq) < (?, ?)", _decode_cursor(cursor)))
        filters: list[Condition] = [(f"{name} = ?", (value,)) for name, value in
                                    (("direction", direction), ("status", status)) if value is not None]
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            filters.append(("text ILIKE ?", (pattern,)))
        order = " ORDER BY created_at DESC, seq DESC"

        def query(head: str, conditions: list[Condition], tail: str, *extra: Any) -> tuple[Any, ...]:
            values = [v for _, vs in conditions for v in vs] + list(extra)
            numbers = iter(range(1, len(values) + 1))
            sql = head + _where([c for c, _ in conditions]) + tail
            return (re.sub(r"\?", lambda _m: f"${next(numbers)}", sql), *values)

        def page(rows: list[Any], more: bool) -> MessagePage:
            rows = rows[:limit]
            last = _encode_cursor(rows[-1]["created_at"], rows[-1]["seq"]) if more and rows else None
            return MessagePage([_record(r) for r in rows], last)

        async def op(conn: Any) -> MessagePage:
            select = "SELECT * FROM messages"
            if not filters:
                rows = await conn.fetch(*query(select, indexed, order + " LIMIT ?", limit + 1))
                return page(rows, len(rows) > limit)
            # the newest _SCAN rows the index yields bound what this page examines
            edge = await conn.fetchrow(*query("SELECT created_at, seq FROM messages", indexed,
                                              order + " LIMIT 1 OFFSET ?", _SCAN - 1))
            window = list(indexed)
            if edge is not None:
                window.append(("(created_at, seq) >= (?, ?)", (edge["created_at"], edge["seq"])))
            rows = await conn.fetch(*query(select, window + filters, order + " LIMIT ?", limit + 1))
            if len(rows) > limit or edge is None:
                return page(rows, len(rows) > limit)
            # the window ran out before the page filled: go on from its oldest row, if anything is older
            beyond = ("(created_at, seq) < (?, ?)", (edge["created_at"], edge["seq"]))
            older = await conn.fetchval(*query("SELECT 1 FROM messages", [*indexed, beyond], " LIMIT 1"))
            following = _encode_cursor(edge["created_at"], edge["seq"]) if older else None
            return MessagePage([_record(r) for r in rows], following)

        return await self._run(op, transaction=False)

    async def hourly_counts(self, since: datetime, *, channel: str | None = None) -> list[HourCount]:
        """Messages created since `since`, counted per channel, UTC hour, direction and current status."""
        extra = " AND channel = $2" if channel else ""
        args: tuple[Any, ...] = (since, channel) if channel else (since,)

        async def op(conn: Any) -> list[HourCount]:
            rows = await conn.fetch(
                "SELECT channel, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24') AS hour, direction,"
                f" status, count(*) AS n FROM messages WHERE created_at >= $1{extra}"
                " GROUP BY channel, hour, direction, status ORDER BY hour", *args)
            return [HourCount(r["channel"], r["hour"], r["direction"], r["status"], r["n"]) for r in rows]

        return await self._run(op, transaction=False)

    async def backlog(self) -> Backlog:
        """Pending sends per channel and undelivered outbox items, each with the age of the oldest."""

        async def op(conn: Any) -> Backlog:
            queued = {r["channel"]: (r["n"], _when(r["oldest"])) for r in await conn.fetch(
                "SELECT channel, count(*) AS n, min(created_at) AS oldest FROM messages"
                " WHERE status IN ('queued', 'errored') AND direction = 'out' GROUP BY channel")}
            row = await conn.fetchrow("SELECT count(*) AS n, min(created_at) AS oldest FROM outbox"
                                      " WHERE done_at IS NULL")
            return Backlog(queued, row["n"], _when(row["oldest"]))

        return await self._run(op, transaction=False)

    async def last_errors(self, channels: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per channel of `channels`, its newest channel log that holds an error (redacted, as stored)."""
        names = list(dict.fromkeys(channels))
        if not names:
            return {}

        async def op(conn: Any) -> dict[str, dict[str, Any]]:
            # one index probe per channel (logs_errors), where a GROUP BY would read every error
            rows = await conn.fetch(
                "SELECT c.name, l.data FROM unnest($1::text[]) AS c(name) CROSS JOIN LATERAL"
                " (SELECT data FROM channel_logs WHERE channel = c.name AND is_error ORDER BY seq DESC LIMIT 1) l",
                names)
            return {r["name"]: loads_stored(r["data"]) for r in rows}

        return await self._run(op, transaction=False)

    async def outbox_for(self, key: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """The outbox items (webhook and bridge calls, delivered or not) of ordering key `key` (a message id),
        oldest first."""

        async def op(conn: Any) -> list[dict[str, Any]]:
            return [_outbox_item(r) for r in await conn.fetch(
                "SELECT * FROM outbox WHERE key = $1 ORDER BY seq LIMIT $2", key, limit)]

        return await self._run(op, transaction=False)

    # -- upkeep -------------------------------------------------------------------------------------------

    async def prune(self, before: datetime) -> int:
        """Delete channel logs, delivered outbox items and joined fragments older than `before`; rows deleted.

        One instance at a time (an advisory lock): another instance pruning at once returns 0 at once.
        """

        async def op(conn: Any) -> int:
            key = _lock_key(self._schema, "prune")
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                return 0
            total = 0
            try:
                # small chunks, each its own transaction: no long lock on the tables callbacks write to
                for sql in ("DELETE FROM channel_logs WHERE seq IN (SELECT seq FROM channel_logs ORDER BY seq"
                            " LIMIT 2000) AND created_at < $1",
                            "DELETE FROM fragments f USING (SELECT channel, key, idx FROM fragments"
                            " WHERE joined_at < $1 LIMIT 2000) d"
                            " WHERE (f.channel, f.key, f.idx) = (d.channel, d.key, d.idx)",
                            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE done_at IS NOT NULL"
                            " ORDER BY seq LIMIT 2000) AND done_at < $1"):
                    while True:
                        deleted = int((await conn.execute(sql, before)).split()[-1])
                        total += deleted
                        if deleted == 0:
                            break
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", key)
            return total

        return await self._run(op, transaction=False)

    async def prune_messages(self, before: datetime, *, chunk: int = 200) -> int:
        """Delete finished messages created before `before` (not queued or errored), with their status history
        and external ids, and status reports that named no message recorded before `before`; messages deleted.

        As the SQLite store does: oldest first by `seq`, `chunk` messages per statement (each its own short
        transaction), each chunk starting where the previous one stopped. A message a callback holds at that
        moment is stepped over (SKIP LOCKED) rather than waited for; the next run takes it. One instance at a
        time (an advisory lock): another instance pruning at once returns 0 at once.
        """

        async def op(conn: Any) -> int:
            key = _lock_key(self._schema, "prune-messages")
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                return 0
            total, position = 0, 0
            try:
                while True:
                    row = await conn.fetchrow(
                        "WITH batch AS (SELECT seq, id, created_at FROM messages WHERE seq > $1 ORDER BY seq"
                        " LIMIT $3),"
                        " done AS (SELECT m.id, m.channel, m.external_ids FROM messages m JOIN batch b ON b.id = m.id"
                        " WHERE b.created_at < $2 AND m.status NOT IN ('queued', 'errored')"
                        " FOR UPDATE OF m SKIP LOCKED),"
                        " h AS (DELETE FROM status_history WHERE message_id IN (SELECT id FROM done)),"
                        " e AS (DELETE FROM external_ids x USING done d,"
                        " jsonb_array_elements_text(d.external_ids::jsonb) AS j(ext)"
                        " WHERE x.channel = d.channel AND x.external_id = j.ext AND x.message_id = d.id),"
                        " m AS (DELETE FROM messages WHERE id IN (SELECT id FROM done) RETURNING 1)"
                        " SELECT (SELECT max(seq) FROM batch) AS last,"
                        " (SELECT count(*) FROM batch WHERE created_at < $2) AS old,"
                        " (SELECT count(*) FROM m) AS deleted",
                        position, before, chunk)
                    if not row["old"]:  # the end, or messages newer than the cutoff from here on
                        break
                    position = row["last"]
                    total += row["deleted"]
                while int((await conn.execute(
                        "DELETE FROM status_history WHERE seq IN (SELECT seq FROM status_history"
                        " WHERE message_id IS NULL AND at < $1 LIMIT $2)", before, chunk)).split()[-1]):
                    pass
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", key)
            return total

        return await self._run(op, transaction=False)

    async def rate_slot(self, key: str, interval: float) -> float:
        """Reserve the next start of a rate shared by every instance (one row per `key`, the database's clock):
        the seconds to wait before starting, so starts are `interval` apart across all instances together."""

        async def op(conn: Any) -> float:
            wait = await conn.fetchval(
                "INSERT INTO rate_slots AS r (key, next_at) VALUES ($1, clock_timestamp() + make_interval(secs => $2))"
                " ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(r.next_at, clock_timestamp())"
                " + make_interval(secs => $2) RETURNING EXTRACT(EPOCH FROM r.next_at - clock_timestamp()) - $2",
                key, interval)
            return max(0.0, float(wait))

        return await self._run(op, transaction=False)

    # -- for tests and `smsgate db copy` ------------------------------------------------------------------

    async def execute(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Run one SQL statement in its own transaction; its rows as dicts (tests and tools, not the gateway)."""

        async def op(conn: Any) -> list[dict[str, Any]]:
            return [dict(r) for r in await conn.fetch(sql, *args)]

        return await self._run(op)


def _outbox_item(row: Any) -> dict[str, Any]:
    times = ("next_attempt_at", "lease_until", "created_at", "done_at")
    return {**dict(row), "payload": loads_stored(row["payload"]), **{k: _when(row[k]) for k in times}}


# the contact of a message (whom it is from or to); messages_by_contact indexes exactly this expression
_CONTACT = "(CASE direction WHEN 'in' THEN from_addr ELSE to_addr END)"
# rows one page of find_messages may examine when it filters by direction, status or text (as SQLite's)
_SCAN = 100_000


def _where(conditions: list[str]) -> str:
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def _encode_cursor(created_at: datetime, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_ts(created_at)}|{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        created, _, seq = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        stamp = datetime.fromisoformat(created)
        if stamp.tzinfo is None:
            raise ValueError("no time zone")
        return stamp, int(seq)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValueError(f"invalid cursor {cursor!r}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
