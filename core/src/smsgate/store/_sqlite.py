"""The embedded store: one SQLite file in WAL mode, written by one thread with group commit.

Every write runs on the writer thread; concurrent writes are committed together in one transaction, each in
its own savepoint, and each caller's `await` returns only after its data is on disk. The platform events a
write makes are built (`smsgate._events`) and planned into the outbox inside that same transaction. Reads
(messages, logs, the outbox as listed) run on reader threads with connections of their own: in WAL mode a
read never waits for the writer and never holds it up, however long it takes.

Every hot query is answered from an index that fits it (`_migrations`, version 4; `core/tests/test_query_plans.py`
checks the plans with EXPLAIN QUERY PLAN, with and without statistics), and the writer runs `PRAGMA optimize`
hourly, so costs stay flat as the tables grow.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
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
from ._migrations import SQLITE, missing
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

__all__ = ["SQLiteStore"]

T = TypeVar("T")
log = logging.getLogger("smsgate.store")


def migrate(conn: sqlite3.Connection) -> list[int]:
    """Apply the SQLite migrations this file lacks, in one BEGIN IMMEDIATE transaction; the versions applied."""
    conn.execute("BEGIN IMMEDIATE")  # another process opening the file at once waits here, then finds it done
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                     " applied_at TEXT NOT NULL)")
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        done = []
        for migration in missing(applied, SQLITE):
            for statement in migration.statements:
                conn.execute(statement)
            if migration.step is not None:
                migration.step(conn)
            conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?,?,?)",
                         (migration.version, migration.name, _ts()))
            done.append(migration.version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return done


_ANALYSIS_LIMIT = 1000
_PRUNE_PAUSE = 0.005
_FIRST_OPTIMIZE = 60.0
_OPTIMIZE_EVERY = 3600.0


def _optimize(conn: sqlite3.Connection) -> None:
    """`PRAGMA optimize`: refresh the planner's statistics of tables whose size changed much (SQLite's advice for
    long-lived connections). The plans do not depend on it (the indexes fit the queries either way); it keeps
    the planner's estimates of what it may choose among close."""
    try:
        conn.execute("PRAGMA optimize")
    except sqlite3.Error:
        log.exception("PRAGMA optimize failed")


def _settle(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, error in settled:
        if future.done():  # its caller was cancelled; the write itself stands
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


def _connect_readonly(path: str) -> sqlite3.Connection:
    """An existing database opened for reading only (a `mode=ro` URI): no schema, no journal change, no file made."""
    conn = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("SELECT 1 FROM messages LIMIT 1")  # not an smsgate database: say so at open, not at first read
    return conn


class _Writer:
    """One thread owns the connection; concurrent jobs are committed together (group commit)."""

    _STOP = object()

    def __init__(self, path: str, synchronous: str, readonly: bool = False) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._ready: Future[None] = Future()
        # a reader takes no write lock: a deferred BEGIN, so it never holds up a running gateway's writes
        self._begin = "BEGIN" if readonly else "BEGIN IMMEDIATE"
        self._thread = threading.Thread(target=self._run, args=(path, synchronous, readonly), name="smsgate-store",
                                        daemon=True)
        self._thread.start()
        self._ready.result()

    def _run(self, path: str, synchronous: str, readonly: bool) -> None:
        try:
            if readonly:
                conn = _connect_readonly(path)
            else:
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={synchronous}")
                conn.execute("PRAGMA busy_timeout=10000")
                # statistics from a bounded sample: ANALYZE of a million rows in milliseconds, not seconds
                conn.execute(f"PRAGMA analysis_limit={_ANALYSIS_LIMIT}")
                migrate(conn)
        except Exception as exc:
            self._ready.set_exception(exc)
            return
        self._ready.set_result(None)
        next_optimize = time.monotonic() + _FIRST_OPTIMIZE
        while True:
            try:
                job = self._jobs.get(timeout=max(0.0, next_optimize - time.monotonic()))
            except queue.Empty:
                job = None
            if not readonly and time.monotonic() >= next_optimize:
                next_optimize = time.monotonic() + _OPTIMIZE_EVERY
                _optimize(conn)
            if job is None:
                continue
            if job is self._STOP:
                break
            batch = [job]
            while len(batch) < 512:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is self._STOP:
                    self._jobs.put(more)
                    break
                batch.append(more)
            self._execute(conn, batch)
        conn.close()

    def _execute(self, conn: sqlite3.Connection, batch: list[tuple[Callable[[sqlite3.Connection], Any], Any]]
                 ) -> None:
        results: list[tuple[Any, Any, BaseException | None]] = []
        try:
            conn.execute(self._begin)
            for fn, waiter in batch:
                conn.execute("SAVEPOINT job")
                try:
                    value = fn(conn)
                except Exception as exc:  # one bad job must not undo its neighbours
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    if isinstance(exc, sqlite3.OperationalError):  # locked, disk I/O, full: not the job's fault
                        exc = StoreUnavailable(f"{type(exc).__name__}: {exc}")
                    results.append((waiter, None, exc))
                else:
                    conn.execute("RELEASE job")
                    results.append((waiter, value, None))
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            # the commit itself failed (disk full, I/O error, locked past busy_timeout): nothing of the batch is
            # stored, and the callers answer 503 so aggregators retry
            failed = StoreUnavailable(f"{type(exc).__name__}: {exc}") if isinstance(exc, sqlite3.Error) else exc
            results = [(waiter, None, failed) for _fn, waiter in batch]
        # Only now is the data on disk. Event-loop callers are woken with one call per loop and batch: a
        # call_soon_threadsafe per job (what asyncio.wrap_future does) wakes the loop once per job, which cost
        # as much of the writer thread's time as committing.
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, BaseException | None]]] = {}
        for waiter, value, error in results:
            if isinstance(waiter, Future):
                if error is not None:
                    waiter.set_exception(error)
                else:
                    waiter.set_result(value)
            else:
                loop, future = waiter
                by_loop.setdefault(loop, []).append((future, value, error))
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # the loop closed while its caller waited: nobody is left to tell
                pass

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """Queue `fn` for the writer thread; the returned future resolves once its transaction committed."""
        fut: Future[T] = Future()
        self._jobs.put((fn, fut))
        return fut

    def submit_async(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """`submit` for the running event loop, without a concurrent future in between."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, (loop, future)))
        return future

    def stop(self) -> None:
        if self._thread.is_alive():
            self._jobs.put(self._STOP)
            self._thread.join(timeout=30)


class _Readers:
    """Threads that read, each with a connection of its own (`query_only`): in WAL mode a read sees the last
    commit, never waits for the writer and never delays it, so a listing cannot stall callbacks being stored."""

    def __init__(self, path: str, threads: int = 2) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="smsgate-read")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA busy_timeout=10000")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            conn = self._conn()
            conn.execute("BEGIN")  # one snapshot for every statement of the read
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:  # locked, disk I/O: not the caller's fault
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from None

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(connection)` on a reader thread, in one read transaction."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, fn)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()


class SQLiteStore:
    """The embedded store: one SQLite file in WAL mode with group commit, and reader threads."""

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
        self._listeners: list[Callable[[str], None]] = []

    def set_planner(self, planner: OutboxPlanner | None) -> None:
        """Turn every stored event into outbox rows with `planner`, in the event's own transaction."""
        self._planner = planner

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call `listener("queued")` / `listener("outbox")` (from the writer thread) when such rows are written."""
        self._listeners.append(listener)

    def _signal(self, topic: str) -> None:
        # called inside the writing job: a reader woken now runs in a later batch, after this commit
        for listener in self._listeners:
            try:
                listener(topic)
            except Exception:
                log.exception("a store listener failed")

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

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._writer.submit_async(fn)

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

    # -- outgoing ---------------------------------------------------------------------------------

    async def add_outgoing(self, message: OutgoingMessage, claim_for: float | None = None) -> Added:
        """Store a new queued message (a known id: the stored one, not created); claim it if `claim_for`
        seconds are given, in the same write (a direct send pays one trip through the writer thread, not two)."""

        def op(conn: sqlite3.Connection) -> Added:
            now = utcnow()
            stamp = _ts(now)
            attachments, metadata, replies = (json.dumps(message.attachments), json.dumps(message.metadata),
                                              json.dumps(message.quick_replies))
            # a new message is claimed by the insert itself: nobody else can hold what did not exist
            lease = None if claim_for is None else _ts(now + timedelta(seconds=claim_for))
            created = conn.execute(
                "INSERT OR IGNORE INTO messages (id, channel, direction, to_addr, from_addr, text, status,"
                " attachments, metadata, quick_replies, high_priority, created_at, updated_at, lease_until, attempts)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (message.id, message.channel, "out", message.to, message.from_, message.text, Status.QUEUED.value,
                 attachments, metadata, replies, int(message.high_priority), stamp, stamp, lease,
                 0 if lease is None else 1)).rowcount == 1
            if not created:
                claimed = claim_for is not None and _claim(conn, message.id, claim_for)
                found = _get(conn, message.id)
                assert found is not None
                return Added(found, False, claimed)
            conn.execute("INSERT INTO status_history (message_id, channel, status, applied, at)"
                         " VALUES (?,?,?,1,?)", (message.id, message.channel, Status.QUEUED.value, stamp))
            # what was just written, without reading it back (the JSON columns as a read would decode them)
            record = MessageRecord(
                id=message.id, channel=message.channel, direction="out", to=message.to, from_=message.from_,
                text=message.text, status=Status.QUEUED.value, external_ids=[],
                attachments=loads_stored(attachments), metadata=loads_stored(metadata), segments=0,
                attempts=0 if lease is None else 1, error_code=None, error_reason=None, created_at=stamp,
                updated_at=stamp, quick_replies=loads_stored(replies), high_priority=bool(message.high_priority))
            update = StatusUpdate(message.channel, Status.QUEUED, message.id, at=now)
            events = (_events.status_changed(message.channel, update, None, Status.QUEUED, record),)
            self._plan(conn, events)
            self._signal("queued")
            return Added(record, True, lease is not None, events)

        return await self._call(op)

    async def claim(self, message_id: str, lease_seconds: float = 300) -> MessageRecord | None:
        """Take a queued or errored message for sending; None if wired, final or leased by another worker."""

        def op(conn: sqlite3.Connection) -> MessageRecord | None:
            return _get(conn, message_id) if _claim(conn, message_id, lease_seconds) else None

        return await self._call(op)

    async def record_send(self, message_id: str, result: SendResult, log: ChannelLog | None) -> StatusChange:
        """Store a send's outcome, external ids, events and channel log; release the claim."""

        def op(conn: sqlite3.Connection) -> StatusChange:
            row = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                raise KeyError(message_id)
            channel = row["channel"]
            for ext in result.external_ids:
                conn.execute("INSERT OR REPLACE INTO external_ids (channel, external_id, message_id) VALUES (?,?,?)",
                             (channel, ext, message_id))
            # the outcome and the status rule (`_apply_status`) in one UPDATE, on the row read once
            previous = Status(row["status"])
            applied = _rules.moves(previous, result.status)
            now = utcnow()
            stamp = _ts(now)
            if _rules.recorded(previous, result.status, applied, _seen(conn, message_id, previous, result.status,
                                                                       applied)):
                conn.execute(
                    "INSERT INTO status_history (message_id, channel, status, applied, external_id, error_code,"
                    " error_reason, at) VALUES (?,?,?,?,NULL,?,?,?)",
                    (message_id, channel, result.status.value, int(applied), result.error_code, result.error_reason,
                     stamp))
            updated = conn.execute(
                "UPDATE messages SET lease_until = NULL, sending_at = NULL, next_attempt_at = NULL, segments = ?,"
                " external_id = COALESCE(?, external_id), external_ids = ?, error_code = ?, error_reason = ?,"
                " status = ?, updated_at = ? WHERE id = ? RETURNING *",
                (result.segments, result.external_ids[0] if result.external_ids else None,
                 json.dumps(result.external_ids), result.error_code, result.error_reason,
                 result.status.value if applied else row["status"], stamp if applied else row["updated_at"],
                 message_id)).fetchone()
            change = StatusChange(message_id, previous, result.status if applied else previous, applied)
            record = _record(updated)
            events: list[PlatformEvent] = []
            if change.applied:
                assert change.current is not None
                update = StatusUpdate(channel, change.current, message_id, error_code=result.error_code,
                                      error_reason=result.error_reason, at=now)
                events.append(_events.status_changed(channel, update, change.previous, change.current,
                                                     record if self._planner is not None else None))
            # reports that overtook this answer (a fast SMSC's receipt on another connection), then the send's
            # own events (an opt-out)
            outcomes = _adopt_early_reports(conn, channel, result.external_ids)
            outcomes += [_store_event(conn, channel, event) for event in result.events]
            if outcomes:
                events.extend(_events.from_inbound(channel, outcomes, self._reader(conn)))
                full = _full(conn, message_id)
                assert full is not None
                record = full
            else:
                record.history = _history(conn, message_id)
            self._plan(conn, events)
            if log is not None:
                _insert_log(conn, log)
            return replace(change, record=record, platform_events=tuple(events))

        return await self._call(op)

    async def claim_due(self, channel: str, *, limit: int = 100, lease_seconds: float = 300) -> list[MessageRecord]:
        """Claim up to `limit` due messages of `channel` in one write, oldest first."""

        def op(conn: sqlite3.Connection) -> list[MessageRecord]:
            now = _ts()
            ids = [r[0] for r in conn.execute(
                # as due(): the partial index of pending messages, so a round costs the queue, not the history
                "SELECT id FROM messages INDEXED BY messages_due WHERE direction = 'out'"
                " AND status IN ('queued', 'errored') AND channel = ?"
                " AND (lease_until IS NULL OR lease_until < ?) AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
                " ORDER BY created_at, rowid LIMIT ?", (channel, now, now, limit))]
            claimed = [_get(conn, i) for i in ids if _claim(conn, i, lease_seconds)]
            return [r for r in claimed if r is not None]

        return await self._call(op)

    async def due(self, channel: str, *, limit: int = 100) -> list[MessageRecord]:
        """Pending messages of `channel` the worker may attempt now (unclaimed, past their backoff), oldest first."""

        def op(conn: sqlite3.Connection) -> list[MessageRecord]:
            now = _ts()
            rows = conn.execute(
                # the partial index holds pending messages only: the cost is the channel's queue, not its history
                "SELECT * FROM messages INDEXED BY messages_due WHERE direction = 'out'"
                " AND status IN ('queued', 'errored') AND channel = ?"
                " AND (lease_until IS NULL OR lease_until < ?) AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
                " ORDER BY created_at, rowid LIMIT ?", (channel, now, now, limit)).fetchall()
            return [_record(r) for r in rows]

        return await self._call(op)

    async def renew(self, message_id: str, lease_seconds: float) -> bool:
        """Extend a live claim; False when the message is no longer claimed."""

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE messages SET lease_until = ? WHERE id = ? AND lease_until IS NOT NULL"
                " AND status IN ('queued', 'errored')",
                (_ts(utcnow() + timedelta(seconds=lease_seconds)), message_id))
            return cur.rowcount == 1

        return await self._call(op)

    async def mark_sending(self, message_id: str) -> bool:
        """Record that a request of the current claim is going out (the send is in doubt until its outcome);
        False when the message is no longer pending and claimed. (One process per file: claims carry no
        holder here, so a claim another process took over is not told apart.)"""
        return await self._call(lambda conn: conn.execute(
            "UPDATE messages SET sending_at = COALESCE(sending_at, ?) WHERE id = ? AND lease_until IS NOT NULL"
            " AND status IN ('queued', 'errored')", (_ts(), message_id)).rowcount == 1)

    async def clear_in_doubt(self, message_id: str) -> None:
        """Forget that an unclaimed message's last request went out, so it is retried."""
        await self._call(lambda conn: conn.execute(
            "UPDATE messages SET sending_at = NULL WHERE id = ? AND (lease_until IS NULL OR lease_until < ?)",
            (message_id, _ts())))

    async def schedule_retry(self, message_id: str, at: datetime) -> None:
        """Do not attempt an errored message again before `at`."""
        await self._call(lambda conn: conn.execute(
            "UPDATE messages SET next_attempt_at = ? WHERE id = ? AND status = 'errored'", (_ts(at), message_id)))

    async def fail_message(self, message_id: str, error_code: str, error_reason: str, *,
                           held: bool = False) -> StatusChange:
        """Make a pending message `failed` (the worker gave up): an unclaimed one, or with `held` one the caller
        claimed and did not attempt (that claim's count is taken back); unapplied if it is not pending."""

        def op(conn: sqlite3.Connection) -> StatusChange:
            cur = conn.execute(
                "UPDATE messages SET lease_until = NULL, sending_at = NULL, next_attempt_at = NULL, error_code = ?,"
                " error_reason = ?, attempts = max(attempts - ?, 0) WHERE id = ? AND direction = 'out'"
                " AND status IN ('queued', 'errored') AND (? OR lease_until IS NULL OR lease_until < ?)",
                (error_code, error_reason, int(held), message_id, int(held), _ts()))
            if cur.rowcount != 1:
                row = conn.execute("SELECT status FROM messages WHERE id = ?", (message_id,)).fetchone()
                current = Status(row["status"]) if row and row["status"] in {s.value for s in Status} else None
                return StatusChange(message_id if row else None, current, current, False)
            channel = conn.execute("SELECT channel FROM messages WHERE id = ?", (message_id,)).fetchone()["channel"]
            change = _apply_status(conn, message_id, channel, Status.FAILED, None, error_code, error_reason,
                                   utcnow())
            if not change.applied:
                return change
            update = StatusUpdate(channel, Status.FAILED, message_id, error_code=error_code, error_reason=error_reason)
            read = self._reader(conn)
            events = (_events.status_changed(channel, update, change.previous, Status.FAILED,
                                             read(message_id) if read else None),)
            self._plan(conn, events)
            return replace(change, platform_events=events)

        return await self._call(op)

    # -- outbox -----------------------------------------------------------------------------------

    async def outbox_due(self, *, limit: int = 100, lease_seconds: float = 60) -> list[OutboxRow]:
        """Take the first undelivered item of each (target, key) that is due, oldest first."""

        def op(conn: sqlite3.Connection) -> list[OutboxRow]:
            now = _ts()
            # only the head of each (target, key) queue: a later event never overtakes an earlier one
            rows = conn.execute(
                "SELECT o.* FROM outbox o WHERE o.done_at IS NULL AND o.seq = (SELECT MIN(p.seq) FROM outbox p"
                " WHERE p.target = o.target AND p.key = o.key AND p.done_at IS NULL)"
                " AND o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until < ?)"
                " ORDER BY o.seq LIMIT ?", (now, now, limit)).fetchall()
            until = _ts(utcnow() + timedelta(seconds=lease_seconds))
            for row in rows:
                conn.execute("UPDATE outbox SET lease_until = ? WHERE seq = ?", (until, row["seq"]))
            return [OutboxRow(id=r["id"], seq=r["seq"], target=r["target"], key=r["key"], type=r["type"],
                              payload=loads_stored(r["payload"]), attempts=r["attempts"], created_at=r["created_at"])
                    for r in rows]

        return await self._call(op)

    async def outbox_done(self, item_id: str) -> None:
        """Mark an outbox item delivered."""
        await self._call(lambda conn: conn.execute(
            "UPDATE outbox SET done_at = ?, lease_until = NULL, attempts = attempts + 1, last_error = NULL"
            " WHERE id = ?", (_ts(), item_id)))

    async def outbox_retry(self, item_id: str, at: datetime, error: str) -> None:
        """Release an outbox item after a failed delivery; try again at `at`."""
        await self._call(lambda conn: conn.execute(
            "UPDATE outbox SET lease_until = NULL, attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
            " WHERE id = ?", (_ts(at), error, item_id)))

    async def outbox_renew(self, item_ids: Sequence[str], lease_seconds: float) -> None:
        """Extend the leases of items a dispatcher took and is still delivering."""
        ids = list(item_ids)
        if not ids:
            return
        until = _ts(utcnow() + timedelta(seconds=lease_seconds))
        await self._call(lambda conn: conn.execute(
            f"UPDATE outbox SET lease_until = ? WHERE id IN ({','.join('?' * len(ids))}) AND done_at IS NULL"
            " AND lease_until IS NOT NULL", (until, *ids)))

    async def outbox_release(self) -> None:
        """Release every outbox claim: for an operator who knows no dispatcher runs (claims otherwise expire)."""
        await self._call(lambda conn: conn.execute(
            "UPDATE outbox SET lease_until = NULL WHERE done_at IS NULL AND lease_until IS NOT NULL"))

    async def outbox_items(self, *, pending: bool | None = None, limit: int = 100, newest_first: bool = False
                           ) -> list[dict[str, Any]]:
        """Outbox items oldest (or newest) first, optionally only pending (True) or delivered (False) ones."""
        where = {None: "", True: " WHERE done_at IS NULL", False: " WHERE done_at IS NOT NULL"}[pending]
        order = " DESC" if newest_first else ""

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(f"SELECT * FROM outbox{where} ORDER BY seq{order} LIMIT ?", (limit,)).fetchall()
            return [{**dict(r), "payload": loads_stored(r["payload"])} for r in rows]

        return await self._read(op)

    # -- inbound ----------------------------------------------------------------------------------

    async def prune(self, before: datetime) -> int:
        """Delete channel logs, delivered outbox items and joined fragments older than `before`; rows deleted."""
        cutoff, total = _ts(before), 0
        # Small chunks, oldest rows first by primary key (rows are written in time order): each chunk is one
        # short job, so inbound callbacks waiting for a commit never queue behind a long delete.
        chunks = ("DELETE FROM channel_logs WHERE seq IN (SELECT seq FROM channel_logs ORDER BY seq LIMIT 2000)"
                  " AND created_at < ?",
                  "DELETE FROM fragments WHERE rowid IN (SELECT rowid FROM fragments WHERE joined_at IS NOT NULL"
                  " LIMIT 2000) AND joined_at < ?",
                  "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE done_at IS NOT NULL ORDER BY seq"
                  " LIMIT 2000) AND done_at < ?")
        for sql in chunks:
            def chunk(conn: sqlite3.Connection, sql: str = sql) -> int:
                return conn.execute(sql, (cutoff,)).rowcount

            while True:
                deleted = await self._call(chunk)
                total += deleted
                if deleted == 0:
                    break
        return total

    async def ping(self) -> bool:
        """Whether the file answers now (`/healthz`): a read through the writer thread."""
        try:
            await asyncio.wait_for(self._call(lambda conn: conn.execute("SELECT 1").fetchone()), 10)
        except (StoreUnavailable, sqlite3.Error, TimeoutError):
            return False
        return True

    async def prune_messages(self, before: datetime, *, chunk: int = 200) -> int:
        """Delete finished messages created before `before` (not queued or errored), with their status history
        and external ids, and status reports that named no message recorded before `before`; messages deleted.

        Oldest first, `chunk` messages per write, each chunk starting where the previous one stopped (messages
        still pending there are stepped over, not read again). Each chunk is one short job with a pause after
        it, so callbacks committing meanwhile never queue behind the deletion."""
        cutoff = _ts(before)
        position = 0
        total = 0

        def chunk_of_messages(conn: sqlite3.Connection) -> int:
            nonlocal position
            # in the order they were stored: the oldest first, by the table's own key (no index to keep up)
            rows = conn.execute("SELECT rowid, id, channel, external_ids, status, created_at FROM messages"
                                " WHERE rowid > ? ORDER BY rowid LIMIT ?", (position, chunk)).fetchall()
            old = [r for r in rows if r["created_at"] < cutoff]
            if not old:  # the end, or messages newer than the cutoff from here on
                return -1
            position = rows[-1]["rowid"]
            done = [r for r in old if r["status"] not in ("queued", "errored")]
            for row in done:
                conn.execute("DELETE FROM status_history WHERE message_id = ?", (row["id"],))
                for ext in loads_stored(row["external_ids"]) or ():
                    conn.execute("DELETE FROM external_ids WHERE channel = ? AND external_id = ? AND message_id = ?",
                                 (row["channel"], ext, row["id"]))
                conn.execute("DELETE FROM messages WHERE rowid = ?", (row["rowid"],))
            return len(done)

        while (deleted := await self._call(chunk_of_messages)) >= 0:
            total += deleted
            await asyncio.sleep(_PRUNE_PAUSE)

        def orphans(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM status_history WHERE seq IN (SELECT seq FROM status_history"
                                " WHERE message_id IS NULL AND at < ? LIMIT ?)", (cutoff, chunk)).rowcount

        while await self._call(orphans):
            await asyncio.sleep(_PRUNE_PAUSE)
        return total

    async def record_inbound(self, channel: str, events: Sequence[Event], log: ChannelLog | None
                             ) -> list[InboundOutcome]:
        """Store every event of one inbound request in one transaction."""

        def op(conn: sqlite3.Connection) -> list[InboundOutcome]:
            outcomes = self._store_events(conn, channel, events, log)
            if log is not None:
                _insert_log(conn, log)
            return outcomes

        return await self._call(op)

    def _store_events(self, conn: sqlite3.Connection, channel: str, events: Sequence[Event],
                      log: ChannelLog | None) -> list[InboundOutcome]:
        """Store inbound events, each outcome with the platform events it makes, planned in this transaction."""
        read = self._reader(conn)
        outcomes = []
        for event in events:
            outcome = _store_event(conn, channel, event, log)
            made = _events.made_by(channel, outcome, read)
            outcomes.append(InboundOutcome(outcome.event, outcome.created, outcome.change, made) if made
                            else outcome)
        self._plan(conn, [e for outcome in outcomes for e in outcome.platform_events])
        return outcomes

    async def add_log(self, log: ChannelLog) -> None:
        """Store a channel log on its own."""
        await self._call(lambda conn: _insert_log(conn, log))

    async def add_fragment(self, channel: str, fragment: Fragment, join: FragmentJoin, log: ChannelLog | None
                           ) -> tuple[bool, list[InboundOutcome]]:
        """Durably keep one part; when all parts of its key are in, store `join(parts)`'s events in the same
        transaction. (False for a part already held; the stored outcomes, or [] while parts are missing.)

        A part equal to one already held (a redelivery, even after the join) is not kept twice. A different part
        at a held position means the sender reused the key for a new message: the old parts are joined as they
        are (still unjoined ones reach `join` incomplete) and the new message starts. `join` runs on the store's
        writer thread inside the transaction, so it must be quick and must not raise.
        """
        data = json.dumps(fragment.data, sort_keys=True, ensure_ascii=False)

        def held_parts(conn: sqlite3.Connection) -> list[Fragment]:
            rows = conn.execute("SELECT * FROM fragments WHERE channel = ? AND key = ? AND joined_at IS NULL"
                                " ORDER BY idx", (channel, fragment.key)).fetchall()
            return [Fragment(r["key"], r["idx"], r["total"], loads_stored(r["data"])) for r in rows]

        def op(conn: sqlite3.Connection) -> tuple[bool, list[InboundOutcome]]:
            outcomes: list[InboundOutcome] = []
            held = conn.execute("SELECT data, total FROM fragments WHERE channel = ? AND key = ? AND idx = ?",
                                (channel, fragment.key, fragment.index)).fetchone()
            if held is not None and held["data"] == data and held["total"] == fragment.total:
                if log is not None:
                    _insert_log(conn, log)
                return False, outcomes
            if held is not None:  # the key now names another message: finish the old one as it is
                leftover = held_parts(conn)
                if leftover:
                    outcomes += self._store_events(conn, channel, join(leftover), log)
                conn.execute("DELETE FROM fragments WHERE channel = ? AND key = ?", (channel, fragment.key))
            else:  # parts of a finished message with this key (other positions) belong to that one
                conn.execute("DELETE FROM fragments WHERE channel = ? AND key = ? AND joined_at IS NOT NULL",
                             (channel, fragment.key))
            now = _ts()
            conn.execute("INSERT INTO fragments (channel, key, idx, total, data, created_at) VALUES (?,?,?,?,?,?)",
                         (channel, fragment.key, fragment.index, fragment.total, data, now))
            present = held_parts(conn)
            if len(present) >= fragment.total:
                outcomes += self._store_events(conn, channel, join(present), log)
                conn.execute("UPDATE fragments SET joined_at = ? WHERE channel = ? AND key = ?",
                             (now, channel, fragment.key))
            if log is not None:
                _insert_log(conn, log)
            return True, outcomes

        return await self._call(op)

    async def known_inbound(self, channel: str, external_ids: Sequence[str]) -> set[str]:
        """Which of `external_ids` are stored incoming messages of `channel`."""
        ids = list(external_ids)
        if not ids:
            return set()

        def op(conn: sqlite3.Connection) -> set[str]:
            marks = ",".join("?" * len(ids))
            return {r["external_id"] for r in conn.execute(
                "SELECT external_id FROM messages WHERE channel = ? AND direction = 'in'"
                f" AND external_id IN ({marks})", (channel, *ids))}

        return await self._call(op)

    async def lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew lease `name` for `holder` for `seconds`; False while another holder's lease is live."""

        def op(conn: sqlite3.Connection) -> bool:
            now = utcnow()
            row = conn.execute("SELECT holder, until FROM leases WHERE name = ?", (name,)).fetchone()
            if row is not None and row["holder"] != holder and row["until"] >= _ts(now):
                return False
            conn.execute("INSERT OR REPLACE INTO leases (name, holder, until) VALUES (?,?,?)",
                         (name, holder, _ts(now + timedelta(seconds=seconds))))
            return True

        return await self._call(op)

    async def release(self, name: str, holder: str) -> None:
        """Give lease `name` up if `holder` holds it."""
        await self._call(lambda conn: conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?",
                                                   (name, holder)))

    # -- reads ------------------------------------------------------------------------------------

    async def get_message(self, message_id: str) -> MessageRecord | None:
        """One message with its status history, or None."""

        return await self._read(lambda conn: _full(conn, message_id))

    async def list_messages(self, *, channel: str | None = None, status: str | None = None,
                            direction: str | None = None, limit: int = 50) -> list[MessageRecord]:
        """Messages newest first, optionally filtered (pages: `find_messages`)."""
        where, args = _filters(channel=channel, status=status, direction=direction)

        def op(conn: sqlite3.Connection) -> list[MessageRecord]:
            rows = conn.execute(f"SELECT * FROM messages{where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
                                (*args, limit)).fetchall()
            return [_record(r) for r in rows]

        return await self._read(op)

    async def list_logs(self, *, channel: str | None = None, message_id: str | None = None,
                        errors_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        """Channel logs newest first (already redacted when they were recorded)."""
        where, args = _filters(channel=channel, message_id=message_id)
        if errors_only:
            where += (" AND" if where else " WHERE") + " is_error = 1"

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(f"SELECT data FROM channel_logs{where} ORDER BY seq DESC LIMIT ?",
                                (*args, limit)).fetchall()
            return [loads_stored(r["data"]) for r in rows]

        return await self._read(op)

    async def opt_outs(self, *, channel: str | None = None) -> list[dict[str, Any]]:
        """Stored opt-out events, oldest first."""
        where, args = _filters(channel=channel)

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            return [dict(r) for r in conn.execute(
                f"SELECT channel, address, reason, at FROM opt_outs{where} ORDER BY seq", args)]

        return await self._read(op)

    # -- reads for operators: on the reader connection, each served by an index ----------------------

    async def find_messages(self, *, channel: str | None = None, direction: str | None = None,
                            status: str | None = None, number: str | None = None, text: str | None = None,
                            cursor: str | None = None, limit: int = 50) -> MessagePage:
        """Messages newest first matching every filter given (`number`: the contact, `text`: a substring,
        case-insensitive for ASCII), from `cursor` on; ValueError for a cursor this store did not make.

        Keyset pagination on (created_at, rowid) over an index (by channel, by contact, by status, by
        direction, or by time): a deep page costs what the first does. Filters that index does not serve
        (direction or status beside a channel or a contact, text) filter the rows it yields, so a page examines
        at most `_SCAN` of them: one that finds fewer matches still returns a cursor, from which the next page
        goes on searching older messages. No page reads the whole table.
        """
        indexed: list[str] = []  # served by an index: channel, contact, and the cursor on created_at
        params: list[Any] = []
        if channel:
            indexed.append("channel = ?")
            params.append(channel)
        if number:
            indexed.append(f"{_CONTACT} = ?")
            params.append(number)
        if not indexed and status:  # messages_by_status: a rare status is found at once, however old
            indexed.append("status = ?")
            params.append(status)
            status = None
        if not indexed and direction:  # messages_by_direction
            indexed.append("direction = ?")
            params.append(direction)
            direction = None
        if cursor is not None:
            created, rowid = _decode_cursor(cursor)
            indexed.append(_OLDER)
            params += [created, created, rowid]
        filtered, values = _filters(direction=direction, status=status)
        filters = [filtered.removeprefix(" WHERE ")] if filtered else []
        filter_params: list[Any] = list(values)
        if text:
            filters.append("text LIKE ? ESCAPE '\\'")
            filter_params.append("%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        order = " ORDER BY created_at DESC, rowid DESC"
        select = "SELECT rowid AS row_id, * FROM messages"

        def page(rows: list[sqlite3.Row], more: bool) -> MessagePage:
            rows = rows[:limit]
            last = _encode_cursor(rows[-1]["created_at"], rows[-1]["row_id"]) if more and rows else None
            return MessagePage([_record(r) for r in rows], last)

        def op(conn: sqlite3.Connection) -> MessagePage:
            if not filters:
                rows = conn.execute(select + _where(indexed) + order + " LIMIT ?", (*params, limit + 1)).fetchall()
                return page(rows, len(rows) > limit)
            # the newest _SCAN rows the index yields bound what this page examines
            edge = conn.execute("SELECT rowid AS row_id, created_at FROM messages" + _where(indexed) + order
                                + " LIMIT 1 OFFSET ?", (*params, _SCAN - 1)).fetchone()
            window = list(indexed)
            window_params = list(params)
            if edge is not None:
                window.append("created_at >= ? AND (created_at > ? OR rowid >= ?)")
                window_params += [edge["created_at"], edge["created_at"], edge["row_id"]]
            rows = conn.execute(select + _where(window + filters) + order + " LIMIT ?",
                                (*window_params, *filter_params, limit + 1)).fetchall()
            if len(rows) > limit or edge is None:
                return page(rows, len(rows) > limit)
            # the window ran out before the page filled: go on from its oldest row, if anything is older
            older = conn.execute("SELECT 1 FROM messages" + _where([*indexed, _OLDER]) + " LIMIT 1",
                                 (*params, edge["created_at"], edge["created_at"], edge["row_id"])).fetchone()
            following = _encode_cursor(edge["created_at"], edge["row_id"]) if older else None
            return MessagePage([_record(r) for r in rows], following)

        return await self._read(op)

    async def hourly_counts(self, since: datetime, *, channel: str | None = None) -> list[HourCount]:
        """Messages created since `since`, counted per channel, UTC hour, direction and current status."""
        extra = " AND channel = ?" if channel else ""
        args: tuple[str, ...] = (_ts(since), channel) if channel else (_ts(since),)

        def op(conn: sqlite3.Connection) -> list[HourCount]:
            rows = conn.execute(
                "SELECT channel, substr(created_at, 1, 13) AS hour, direction, status, count(*) AS n FROM messages"
                f" WHERE created_at >= ?{extra} GROUP BY channel, hour, direction, status ORDER BY hour", args)
            return [HourCount(r["channel"], r["hour"], r["direction"], r["status"], r["n"]) for r in rows]

        return await self._read(op)

    async def backlog(self) -> Backlog:
        """Pending sends per channel and undelivered outbox items, each with the age of the oldest."""

        def op(conn: sqlite3.Connection) -> Backlog:
            queued = {r["channel"]: (r["n"], r["oldest"]) for r in conn.execute(
                # the partial index holds exactly the pending sends, by channel: the cost is the backlog
                "SELECT channel, count(*) AS n, min(created_at) AS oldest FROM messages INDEXED BY messages_due"
                " WHERE status IN ('queued', 'errored') AND direction = 'out' GROUP BY channel")}
            row = conn.execute("SELECT count(*) AS n, min(created_at) AS oldest FROM outbox WHERE done_at IS NULL"
                               ).fetchone()
            return Backlog(queued, row["n"], row["oldest"])

        return await self._read(op)

    async def last_errors(self, channels: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per channel of `channels`, its newest channel log that holds an error (redacted, as stored)."""

        def op(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            found = {}
            for name in channels:  # one index probe each (logs_errors), where a GROUP BY would read every error
                row = conn.execute("SELECT data FROM channel_logs WHERE channel = ? AND is_error = 1"
                                   " ORDER BY seq DESC LIMIT 1", (name,)).fetchone()
                if row is not None:
                    found[name] = loads_stored(row["data"])
            return found

        return await self._read(op)

    async def outbox_for(self, key: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """The outbox items (webhook and bridge calls, delivered or not) of ordering key `key` (a message id),
        oldest first."""

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute("SELECT * FROM outbox WHERE key = ? ORDER BY seq LIMIT ?", (key, limit)).fetchall()
            return [{**dict(r), "payload": loads_stored(r["payload"])} for r in rows]

        return await self._read(op)


# the contact of a message (whom it is from or to); messages_by_contact indexes exactly this expression
_CONTACT = "(CASE direction WHEN 'in' THEN from_addr ELSE to_addr END)"
# keyset: rows strictly older than (created_at, rowid), in the listing's order
_OLDER = "created_at <= ? AND (created_at < ? OR rowid < ?)"
# rows one page may examine when it filters by direction, status or text (no index serves those: a status index
# would be rewritten on every status change of the send path): about 30 ms of SQLite time here
_SCAN = 100_000


def _where(conditions: list[str]) -> str:
    return " WHERE " + " AND ".join(conditions) if conditions else ""


def _encode_cursor(created_at: str, rowid: int) -> str:
    return base64.urlsafe_b64encode(f"{created_at}|{rowid}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, int]:
    try:
        created, _, rowid = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition("|")
        datetime.fromisoformat(created)
        return created, int(rowid)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ValueError(f"invalid cursor {cursor!r}") from None

def _filters(**values: str | None) -> tuple[str, tuple[str, ...]]:
    parts = [(f"{k} = ?", v) for k, v in values.items() if v is not None]
    if not parts:
        return "", ()
    return " WHERE " + " AND ".join(p for p, _ in parts), tuple(v for _, v in parts if v is not None)


def _record(row: sqlite3.Row) -> MessageRecord:
    return MessageRecord(
        id=row["id"], channel=row["channel"], direction=row["direction"], to=row["to_addr"],
        from_=row["from_addr"], text=row["text"], status=row["status"],
        external_ids=loads_stored(row["external_ids"]) or ([row["external_id"]] if row["external_id"] else []),
        attachments=loads_stored(row["attachments"]), metadata=loads_stored(row["metadata"]),
        segments=row["segments"], attempts=row["attempts"], error_code=row["error_code"],
        error_reason=row["error_reason"], created_at=row["created_at"], updated_at=row["updated_at"],
        next_attempt_at=row["next_attempt_at"], sending_at=row["sending_at"],
        quick_replies=loads_stored(row["quick_replies"]), high_priority=bool(row["high_priority"]))


def _get(conn: sqlite3.Connection, message_id: str) -> MessageRecord | None:
    row = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
    return _record(row) if row else None


def _full(conn: sqlite3.Connection, message_id: str) -> MessageRecord | None:
    record = _get(conn, message_id)
    if record is not None:
        record.history = _history(conn, message_id)
    return record


def _history(conn: sqlite3.Connection, message_id: str) -> list[dict[str, Any]]:
    history = [dict(r) for r in conn.execute(
        "SELECT status, applied, external_id, error_code, error_reason, at FROM status_history"
        " WHERE message_id = ? ORDER BY seq", (message_id,))]
    for item in history:
        item["applied"] = bool(item["applied"])
    return history


def _seen(conn: sqlite3.Connection, message_id: str, previous: Status, status: Status, applied: bool) -> bool:
    """Whether a report of `status` that does not move the message is already in its history (`_rules.recorded`)."""
    return not applied and previous is not status and status is not Status.ERRORED and conn.execute(
        "SELECT 1 FROM status_history WHERE message_id = ? AND status = ? LIMIT 1",
        (message_id, status.value)).fetchone() is not None


def _claim(conn: sqlite3.Connection, message_id: str, lease_seconds: float) -> bool:
    now = utcnow()
    cur = conn.execute(
        "UPDATE messages SET lease_until = ?, attempts = attempts + 1 WHERE id = ? AND direction = 'out'"
        " AND status IN ('queued', 'errored') AND (lease_until IS NULL OR lease_until < ?)",
        (_ts(now + timedelta(seconds=lease_seconds)), message_id, _ts(now)))
    return cur.rowcount == 1


def _apply_status(conn: sqlite3.Connection, message_id: str, channel: str, status: Status,
                  external_id: str | None, error_code: str | None, error_reason: str | None,
                  at: datetime) -> StatusChange:
    row = conn.execute("SELECT status FROM messages WHERE id = ?", (message_id,)).fetchone()
    previous = Status(row["status"])
    applied = _rules.moves(previous, status)
    if _rules.recorded(previous, status, applied, _seen(conn, message_id, previous, status, applied)):
        conn.execute(
            "INSERT INTO status_history (message_id, channel, status, applied, external_id, error_code, error_reason,"
            " at) VALUES (?,?,?,?,?,?,?,?)",
            (message_id, channel, status.value, int(applied), external_id, error_code, error_reason, _ts(at)))
    if applied:
        conn.execute("UPDATE messages SET status = ?, updated_at = ?, error_code = COALESCE(?, error_code),"
                     " error_reason = COALESCE(?, error_reason) WHERE id = ?",
                     (status.value, _ts(), error_code, error_reason, message_id))
    return StatusChange(message_id, previous, status if applied else previous, applied)


def _store_event(conn: sqlite3.Connection, channel: str, event: Event, log: ChannelLog | None = None
                 ) -> InboundOutcome:
    if isinstance(event, IncomingMessage):
        now = _ts()
        cur = conn.execute(
            "INSERT OR IGNORE INTO messages (id, channel, direction, to_addr, from_addr, text, status, external_id,"
            " external_ids, attachments, metadata, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (event.id, channel, "in", event.to, event.from_, event.text, "received", event.external_id,
             json.dumps([event.external_id] if event.external_id else []), json.dumps(event.attachments),
             json.dumps({"received_at": _ts(event.received_at), "raw": event.raw}, default=str), now, now))
        if cur.rowcount == 1:
            if log is not None and log.message_id is None:
                log.message_id = event.id
            return InboundOutcome(event)
        row = conn.execute("SELECT id FROM messages WHERE channel = ? AND direction = 'in' AND external_id = ?",
                           (channel, event.external_id)).fetchone()
        if row is not None:  # a retried delivery: answer with the id stored the first time
            event.id = row["id"]
            if log is not None and log.message_id is None:
                log.message_id = event.id
        return InboundOutcome(event, created=False)
    if isinstance(event, StatusUpdate):
        # Every lookup is scoped to the channel the report arrived on: a callback route that needs no credentials
        # (Kannel's DLR, an http channel without inbound_secret) must not reach another channel's messages. A
        # foreign id therefore looks exactly like an unknown one.
        message_id = event.message_id
        if message_id is not None:
            row = conn.execute("SELECT id FROM messages WHERE id = ? AND channel = ? AND direction = 'out'",
                               (message_id, channel)).fetchone()
            message_id = row["id"] if row else None
        if message_id is None and event.external_id:
            row = conn.execute("SELECT message_id FROM external_ids WHERE channel = ? AND external_id = ?",
                               (channel, event.external_id)).fetchone()
            message_id = row["message_id"] if row else None
        if message_id is None:  # keep the report: a 2xx promises it is stored, even for a message we never sent
            reference = event.external_id or event.message_id
            if log is not None:
                log.error(f"status report {event.status.value!r} names no message of channel {channel!r} "
                          f"(id {event.message_id or '-'}, external id {event.external_id or '-'}): recorded, "
                          "nothing changed")
            if conn.execute(  # once: an aggregator replaying an orphan report must not grow the history
                    "SELECT 1 FROM status_history WHERE message_id IS NULL AND channel = ? AND external_id IS ?"
                    " AND status = ? LIMIT 1", (channel, reference, event.status.value)).fetchone() is None:
                conn.execute(
                    "INSERT INTO status_history (message_id, channel, status, applied, external_id, error_code,"
                    " error_reason, at) VALUES (NULL,?,?,0,?,?,?,?)",
                    (channel, event.status.value, reference, event.error_code, event.error_reason, _ts(event.at)))
            return InboundOutcome(event, created=False, change=StatusChange(None, None, None, False))
        if log is not None and log.message_id is None:  # `smsgate logs --message ID` finds its callbacks
            log.message_id = message_id
        status = _part_status(conn, message_id, event)
        change = _apply_status(conn, message_id, channel, status, event.external_id, event.error_code,
                               event.error_reason, event.at)
        return InboundOutcome(event, created=change.applied, change=change)
    if isinstance(event, OptOut):
        conn.execute("INSERT INTO opt_outs (channel, address, reason, at) VALUES (?,?,?,?)",
                     (channel, event.address, event.reason, _ts(event.at)))
        return InboundOutcome(event)
    if isinstance(event, Ignored):
        return InboundOutcome(event, created=False)
    raise TypeError(f"not an event: {event!r}")


def _part_status(conn: sqlite3.Connection, message_id: str, event: StatusUpdate) -> Status:
    """`event`'s status under the rule for messages sent in parts (`_rules.part_status`); a part's `delivered`
    that does not complete the message is kept in the history as such."""
    if event.status is not Status.DELIVERED or not event.external_id:
        return event.status
    row = conn.execute("SELECT external_ids FROM messages WHERE id = ?", (message_id,)).fetchone()
    parts = set(loads_stored(row["external_ids"])) if row else set()
    if len(parts) < 2:
        return event.status
    delivered = {r["external_id"] for r in conn.execute(
        "SELECT external_id FROM status_history WHERE message_id = ? AND status = 'delivered'", (message_id,))}
    status = _rules.part_status(event.status, event.external_id, parts, delivered)
    if status is not event.status and event.external_id not in delivered:
        conn.execute("INSERT INTO status_history (message_id, channel, status, applied, external_id, at)"
                     " SELECT ?, channel, 'delivered', 0, ?, ? FROM messages WHERE id = ?",
                     (message_id, event.external_id, _ts(event.at), message_id))
    return status


_EARLY_REPORT_SECONDS = 600


def _adopt_early_reports(conn: sqlite3.Connection, channel: str, external_ids: Sequence[str]
                         ) -> list[InboundOutcome]:
    """Apply reports kept as orphans for these external ids, which the send that got them has just stored.

    A fast SMSC can send a receipt on one connection before the answer carrying its message id is processed on
    another; only reports of the last ten minutes qualify (an older one is about some other message that
    happened to get the same id).
    """
    if not external_ids:
        return []
    marks = ",".join("?" * len(external_ids))
    since = _ts(utcnow() - timedelta(seconds=_EARLY_REPORT_SECONDS))
    rows = conn.execute(
        f"SELECT * FROM status_history WHERE message_id IS NULL AND channel = ? AND external_id IN ({marks})"
        " AND at >= ? ORDER BY seq", (channel, *external_ids, since)).fetchall()
    outcomes = []
    for row in rows:
        conn.execute("DELETE FROM status_history WHERE seq = ?", (row["seq"],))
        event = StatusUpdate(channel, Status(row["status"]), external_id=row["external_id"],
                             error_code=row["error_code"], error_reason=row["error_reason"],
                             at=datetime.fromisoformat(row["at"]))
        outcomes.append(_store_event(conn, channel, event))
    return outcomes


def _insert_log(conn: sqlite3.Connection, log: ChannelLog) -> None:
    data = log.as_dict()
    conn.execute(
        "INSERT INTO channel_logs (id, channel, kind, message_id, is_error, elapsed_ms, created_at, data)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (log.id, log.channel, log.kind, log.message_id, int(bool(log.errors)), log.elapsed_ms, data["created_at"],
         json.dumps(data, ensure_ascii=False)))
