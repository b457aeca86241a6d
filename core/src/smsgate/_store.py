"""Durable storage of messages, status history, opt-outs, channel logs and the platform outbox.

`Store` is the interface the gateway and the CLI use; `SQLiteStore` is the embedded default. It runs
every operation on one writer thread and commits a batch of concurrent operations in one transaction
(group commit), so each caller's `await` returns only after its data is on disk.

The outbox holds what the platform side (webhooks, bridges) must still be told. A planner set with
`set_planner` turns each stored event into outbox rows inside the transaction that stores the event, so a
crash can never keep the event and lose its webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ._channellog import ChannelLog
from ._models import (
    Event,
    Ignored,
    IncomingMessage,
    OptOut,
    OutgoingMessage,
    SendResult,
    Status,
    StatusUpdate,
    new_id,
    utcnow,
)

__all__ = [
    "Fragment",
    "InboundOutcome",
    "MessageRecord",
    "Notification",
    "OutboxItem",
    "OutboxPlanner",
    "OutboxRow",
    "SQLiteStore",
    "Store",
    "StatusChange",
]

T = TypeVar("T")
log = logging.getLogger("smsgate.store")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    to_addr TEXT NOT NULL DEFAULT '',
    from_addr TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    external_id TEXT,
    external_ids TEXT NOT NULL DEFAULT '[]',
    attachments TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    segments INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_reason TEXT,
    lease_until TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_inbound_dedupe
    ON messages (channel, external_id) WHERE direction = 'in' AND external_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_by_channel ON messages (channel, created_at);
CREATE INDEX IF NOT EXISTS messages_pending ON messages (status) WHERE status IN ('queued', 'errored');
CREATE TABLE IF NOT EXISTS external_ids (
    channel TEXT NOT NULL,
    external_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (channel, external_id)
);
CREATE TABLE IF NOT EXISTS status_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    applied INTEGER NOT NULL,
    external_id TEXT,
    error_code TEXT,
    error_reason TEXT,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_message ON status_history (message_id, seq);
CREATE INDEX IF NOT EXISTS history_orphans ON status_history (channel, external_id) WHERE message_id IS NULL;
CREATE TABLE IF NOT EXISTS opt_outs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS channel_logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    message_id TEXT,
    is_error INTEGER NOT NULL,
    elapsed_ms REAL NOT NULL,
    created_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_channel ON channel_logs (channel, seq);
CREATE INDEX IF NOT EXISTS logs_by_message ON channel_logs (message_id);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    target TEXT NOT NULL,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    done_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_open ON outbox (target, key, seq) WHERE done_at IS NULL;
CREATE TABLE IF NOT EXISTS fragments (
    channel TEXT NOT NULL,
    key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    total INTEGER NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    joined_at TEXT,
    PRIMARY KEY (channel, key, idx)
);
CREATE TABLE IF NOT EXISTS leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until TEXT NOT NULL
);
"""

# Columns added after the first schema: (table, column, type). Added in place when an older file lacks them.
_ADDED_COLUMNS = [
    ("messages", "next_attempt_at", "TEXT"),  # the worker's backoff: not retried before this time
    ("messages", "sending_at", "TEXT"),  # a request of the current claim went out; cleared with its outcome
    ("messages", "quick_replies", "TEXT NOT NULL DEFAULT '[]'"),  # a retry from the store must send them too
    ("messages", "high_priority", "INTEGER NOT NULL DEFAULT 0"),
]


def _ts(value: datetime | None = None) -> str:
    return (value or utcnow()).astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(slots=True)
class MessageRecord:
    """A stored message (either direction) as the CLI and the API show it."""

    id: str
    channel: str
    direction: str
    to: str
    from_: str
    text: str
    status: str
    external_ids: list[str]
    attachments: list[str]
    metadata: dict[str, Any]
    segments: int
    attempts: int
    error_code: str | None
    error_reason: str | None
    created_at: str
    updated_at: str
    history: list[dict[str, Any]] = field(default_factory=list)
    next_attempt_at: str | None = None
    sending_at: str | None = None
    quick_replies: list[str] = field(default_factory=list)
    high_priority: bool = False

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (`from_` becomes `from`)."""
        data = asdict(self)
        data["from"] = data.pop("from_")
        return data


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What applying a status did: the message it hit, its status before and after, and whether it moved."""

    message_id: str | None
    previous: Status | None
    current: Status | None
    applied: bool
    record: MessageRecord | None = field(default=None, compare=False, repr=False)
    """The message as stored after the change, with its history, when the store read it anyway."""


@dataclass(frozen=True, slots=True)
class InboundOutcome:
    """The stored result of one inbound event: new or a duplicate, or the status change it caused."""

    event: Event
    created: bool = True
    change: StatusChange | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """A stored event the platform side hears about: its type, channel, ordering key and JSON-ready data."""

    type: str
    channel: str
    key: str
    data: dict[str, Any]
    at: str
    message: MessageRecord | None = None


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One delivery a planner wants: to `target`, in order with the other items of the same `key`."""

    target: str
    key: str
    type: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A stored outbox item taken for delivery: its stable id (the webhook-id) and attempt count."""

    id: str
    seq: int
    target: str
    key: str
    type: str
    payload: dict[str, Any]
    attempts: int
    created_at: str


OutboxPlanner = Callable[[Notification], Sequence[OutboxItem]]


@dataclass(frozen=True, slots=True)
class Fragment:
    """One part of an inbound message that arrives in pieces (a concatenated SMS): `key` names the whole
    message within its channel, `index` counts from 1 to `total`, `data` (JSON-ready) is what joining needs."""

    key: str
    index: int
    total: int
    data: dict[str, Any]


FragmentJoin = Callable[[list[Fragment]], Sequence[Event]]


class Store(Protocol):
    """What the gateway needs from storage; every write is durable when its coroutine returns."""

    async def add_outgoing(self, message: OutgoingMessage) -> tuple[MessageRecord, bool]:
        """Store a new queued message; for a known id return the existing record and False."""

    async def add_and_claim(self, message: OutgoingMessage, lease_seconds: float = 300
                            ) -> tuple[MessageRecord, bool, bool]:
        """`add_outgoing` then `claim` in one durable write: (record, created, claimed)."""

    async def claim(self, message_id: str, lease_seconds: float = 300) -> MessageRecord | None:
        """Take a queued or errored message for sending; None if it is wired, final or taken by another worker."""

    async def record_send(self, message_id: str, result: SendResult, log: ChannelLog | None) -> StatusChange:
        """Store a send's outcome, its external ids, its events and its channel log; release the claim."""

    async def record_inbound(self, channel: str, events: Sequence[Event], log: ChannelLog | None
                             ) -> list[InboundOutcome]:
        """Store every event of one inbound request in one transaction."""

    async def add_log(self, log: ChannelLog) -> None:
        """Store a channel log on its own."""

    async def get_message(self, message_id: str) -> MessageRecord | None:
        """One message with its status history, or None."""

    async def list_messages(self, *, channel: str | None = None, status: str | None = None,
                            direction: str | None = None, limit: int = 50) -> list[MessageRecord]:
        """Messages newest first, optionally filtered."""

    async def list_logs(self, *, channel: str | None = None, message_id: str | None = None,
                        errors_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        """Channel logs newest first."""

    async def pending(self, *, limit: int = 100) -> list[MessageRecord]:
        """Outgoing messages still to send (queued or errored, not claimed), oldest first."""

    async def opt_outs(self, *, channel: str | None = None) -> list[dict[str, Any]]:
        """Stored opt-out events, oldest first."""

    async def close(self) -> None:
        """Finish pending writes and close."""

    def set_planner(self, planner: OutboxPlanner | None) -> None:
        """Turn every stored event into outbox rows with `planner`, in the event's own transaction."""

    def subscribe(self, listener: Callable[[str], None]) -> None:
        """Call `listener("queued")` / `listener("outbox")` (from the writer thread) when such rows are written."""

    async def due(self, channel: str, *, limit: int = 100) -> list[MessageRecord]:
        """Pending messages of `channel` the worker may attempt now (unclaimed, past their backoff), oldest first."""

    async def renew(self, message_id: str, lease_seconds: float) -> bool:
        """Extend a live claim; False when the message is no longer claimed."""

    async def mark_sending(self, message_id: str) -> None:
        """Record that a request of the current claim is going out (the send is in doubt until its outcome)."""

    async def clear_in_doubt(self, message_id: str) -> None:
        """Forget that an unclaimed message's last request went out, so it is retried."""

    async def schedule_retry(self, message_id: str, at: datetime) -> None:
        """Do not attempt an errored message again before `at`."""

    async def fail_message(self, message_id: str, error_code: str, error_reason: str) -> StatusChange:
        """Make an unclaimed pending message `failed` (the worker gave up); unapplied if it is not pending."""

    async def outbox_due(self, *, limit: int = 100, lease_seconds: float = 60) -> list[OutboxRow]:
        """Take the first undelivered item of each (target, key) that is due, oldest first."""

    async def outbox_done(self, item_id: str) -> None:
        """Mark an outbox item delivered."""

    async def outbox_retry(self, item_id: str, at: datetime, error: str) -> None:
        """Release an outbox item after a failed delivery; try again at `at`."""

    async def outbox_release(self) -> None:
        """Release every outbox claim (a starting dispatcher: a dead one's claims are void)."""

    async def outbox_items(self, *, pending: bool | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Outbox items oldest first, optionally only pending (True) or delivered (False) ones."""

    async def prune(self, before: datetime) -> int:
        """Delete channel logs, delivered outbox items and joined fragments older than `before`; rows deleted."""

    async def add_fragment(self, channel: str, fragment: Fragment, join: FragmentJoin, log: ChannelLog | None
                           ) -> tuple[bool, list[InboundOutcome]]:
        """Durably keep one part; when all parts of its key are in, store `join(parts)`'s events in the same
        transaction. Returns (False for a part already held, the stored outcomes or [] while parts are missing)."""

    async def known_inbound(self, channel: str, external_ids: Sequence[str]) -> set[str]:
        """Which of `external_ids` are stored incoming messages of `channel`."""

    async def lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew lease `name` for `holder` for `seconds`; False while another holder's lease is live."""

    async def release(self, name: str, holder: str) -> None:
        """Give lease `name` up if `holder` holds it."""


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


def _settle(settled: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, error in settled:
        if future.done():  # its caller was cancelled; the write itself stands
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


class _Writer:
    """One thread owns the connection; concurrent jobs are committed together (group commit)."""

    _STOP = object()

    def __init__(self, path: str, synchronous: str) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, args=(path, synchronous), name="smsgate-store",
                                        daemon=True)
        self._thread.start()
        self._ready.result()

    def _run(self, path: str, synchronous: str) -> None:
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("PRAGMA busy_timeout=10000")
            conn.executescript(_SCHEMA)
            for table, column, kind in _ADDED_COLUMNS:
                have = {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        except Exception as exc:
            self._ready.set_exception(exc)
            return
        self._ready.set_result(None)
        while True:
            job = self._jobs.get()
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
            conn.execute("BEGIN IMMEDIATE")
            for fn, waiter in batch:
                conn.execute("SAVEPOINT job")
                try:
                    value = fn(conn)
                except Exception as exc:  # one bad job must not undo its neighbours
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    results.append((waiter, None, exc))
                else:
                    conn.execute("RELEASE job")
                    results.append((waiter, value, None))
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            results = [(waiter, None, exc) for _fn, waiter in batch]
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


class SQLiteStore:
    """The embedded store: one SQLite file in WAL mode with group commit."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = _Writer(self.path, synchronous)
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

    def _notify(self, conn: sqlite3.Connection, notes: Sequence[Notification]) -> None:
        if self._planner is None or not notes:
            return
        now = _ts()
        added = False
        for note in notes:
            try:
                items = list(self._planner(note))
            except Exception:  # a planning bug must not make the gateway refuse an aggregator's callback
                log.exception("the outbox planner failed on %s %s", note.type, note.key)
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

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await self._writer.submit_async(fn)

    def call_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` on the writer thread and wait (for synchronous callers such as tests)."""
        return self._writer.submit(fn).result()

    async def close(self) -> None:
        """Finish pending writes and close the file."""
        await asyncio.to_thread(self._writer.stop)

    # -- outgoing ---------------------------------------------------------------------------------

    async def add_outgoing(self, message: OutgoingMessage) -> tuple[MessageRecord, bool]:
        """Store a new queued message; for a known id return the existing record and False."""
        record, created, _ = await self._call(lambda conn: self._add(conn, message, None))
        return record, created

    async def add_and_claim(self, message: OutgoingMessage, lease_seconds: float = 300
                            ) -> tuple[MessageRecord, bool, bool]:
        """`add_outgoing` then `claim` in one durable write: (record, created, claimed)."""
        # one job instead of two: a direct send pays one trip through the writer thread, not two
        return await self._call(lambda conn: self._add(conn, message, lease_seconds))

    def _add(self, conn: sqlite3.Connection, message: OutgoingMessage, lease_seconds: float | None
             ) -> tuple[MessageRecord, bool, bool]:
        """Insert `message` as queued unless its id is known, then claim it when given a lease."""
        now = _ts()
        created = conn.execute(
            "INSERT OR IGNORE INTO messages (id, channel, direction, to_addr, from_addr, text, status,"
            " attachments, metadata, quick_replies, high_priority, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (message.id, message.channel, "out", message.to, message.from_, message.text, Status.QUEUED.value,
             json.dumps(message.attachments), json.dumps(message.metadata), json.dumps(message.quick_replies),
             int(message.high_priority), now, now)).rowcount == 1
        if created:
            conn.execute("INSERT INTO status_history (message_id, channel, status, applied, at) VALUES (?,?,?,1,?)",
                         (message.id, message.channel, Status.QUEUED.value, now))
        claimed = lease_seconds is not None and _claim(conn, message.id, lease_seconds)
        record = _get(conn, message.id)
        assert record is not None
        if created:
            if self._planner is not None:
                self._notify(conn, [_status_note(record, None, None, None, None, now)])
            self._signal("queued")
        return record, created, claimed

    async def claim(self, message_id: str, lease_seconds: float = 300) -> MessageRecord | None:
        """Take a queued or errored message for sending; None if wired, final or leased by another worker."""

        def op(conn: sqlite3.Connection) -> MessageRecord | None:
            return _get(conn, message_id) if _claim(conn, message_id, lease_seconds) else None

        return await self._call(op)

    async def record_send(self, message_id: str, result: SendResult, log: ChannelLog | None) -> StatusChange:
        """Store a send's outcome, external ids, events and channel log; release the claim."""

        def op(conn: sqlite3.Connection) -> StatusChange:
            row = conn.execute("SELECT channel FROM messages WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                raise KeyError(message_id)
            channel = row["channel"]
            for ext in result.external_ids:
                conn.execute("INSERT OR REPLACE INTO external_ids (channel, external_id, message_id) VALUES (?,?,?)",
                             (channel, ext, message_id))
            conn.execute(
                "UPDATE messages SET lease_until = NULL, sending_at = NULL, next_attempt_at = NULL, segments = ?,"
                " external_id = COALESCE(?, external_id), external_ids = ?, error_code = ?, error_reason = ?"
                " WHERE id = ?",
                (result.segments, result.external_ids[0] if result.external_ids else None,
                 json.dumps(result.external_ids), result.error_code, result.error_reason, message_id))
            change = _apply_status(conn, message_id, channel, result.status, None, result.error_code,
                                   result.error_reason, utcnow())
            outcomes = [_store_event(conn, channel, event) for event in result.events]
            adopted = _adopt_early_reports(conn, channel, result.external_ids)
            outcomes += adopted
            final = next((o.change.current for o in reversed(adopted) if o.change and o.change.applied), None)
            if final is not None:  # a report that overtook this answer moved the message on: say where it is
                change = StatusChange(message_id, change.previous, final, True)
            record = _full(conn, message_id)
            assert record is not None
            if self._planner is not None:  # notes cost a read per event: only built when someone is told
                notes = []
                if change.applied:
                    notes.append(_status_note(record, change.previous, None, result.error_code,
                                              result.error_reason, _ts()))
                notes.extend(_outcome_notes(conn, channel, outcomes))
                self._notify(conn, notes)
            if log is not None:
                _insert_log(conn, log)
            return replace(change, record=record)

        return await self._call(op)

    async def pending(self, *, limit: int = 100) -> list[MessageRecord]:
        """Outgoing messages still to send (queued or errored, not claimed), oldest first."""

        def op(conn: sqlite3.Connection) -> list[MessageRecord]:
            rows = conn.execute(
                "SELECT * FROM messages WHERE direction = 'out' AND status IN ('queued', 'errored')"
                " AND (lease_until IS NULL OR lease_until < ?) ORDER BY created_at LIMIT ?",
                (_ts(), limit)).fetchall()
            return [_record(r) for r in rows]

        return await self._call(op)

    async def due(self, channel: str, *, limit: int = 100) -> list[MessageRecord]:
        """Pending messages of `channel` the worker may attempt now (unclaimed, past their backoff), oldest first."""

        def op(conn: sqlite3.Connection) -> list[MessageRecord]:
            now = _ts()
            rows = conn.execute(
                "SELECT * FROM messages WHERE direction = 'out' AND status IN ('queued', 'errored') AND channel = ?"
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

    async def mark_sending(self, message_id: str) -> None:
        """Record that a request of the current claim is going out (the send is in doubt until its outcome)."""
        await self._call(lambda conn: conn.execute(
            "UPDATE messages SET sending_at = ? WHERE id = ? AND sending_at IS NULL", (_ts(), message_id)))

    async def clear_in_doubt(self, message_id: str) -> None:
        """Forget that an unclaimed message's last request went out, so it is retried."""
        await self._call(lambda conn: conn.execute(
            "UPDATE messages SET sending_at = NULL WHERE id = ? AND (lease_until IS NULL OR lease_until < ?)",
            (message_id, _ts())))

    async def schedule_retry(self, message_id: str, at: datetime) -> None:
        """Do not attempt an errored message again before `at`."""
        await self._call(lambda conn: conn.execute(
            "UPDATE messages SET next_attempt_at = ? WHERE id = ? AND status = 'errored'", (_ts(at), message_id)))

    async def fail_message(self, message_id: str, error_code: str, error_reason: str) -> StatusChange:
        """Make an unclaimed pending message `failed` (the worker gave up); unapplied if it is not pending."""

        def op(conn: sqlite3.Connection) -> StatusChange:
            cur = conn.execute(
                "UPDATE messages SET lease_until = NULL, sending_at = NULL, next_attempt_at = NULL, error_code = ?,"
                " error_reason = ? WHERE id = ? AND direction = 'out' AND status IN ('queued', 'errored')"
                " AND (lease_until IS NULL OR lease_until < ?)", (error_code, error_reason, message_id, _ts()))
            if cur.rowcount != 1:
                row = conn.execute("SELECT status FROM messages WHERE id = ?", (message_id,)).fetchone()
                current = Status(row["status"]) if row and row["status"] in {s.value for s in Status} else None
                return StatusChange(message_id if row else None, current, current, False)
            channel = conn.execute("SELECT channel FROM messages WHERE id = ?", (message_id,)).fetchone()["channel"]
            change = _apply_status(conn, message_id, channel, Status.FAILED, None, error_code, error_reason,
                                   utcnow())
            if change.applied:
                self._notify(conn, [_change_note(conn, change, None, error_code, error_reason, _ts())])
            return change

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
                              payload=json.loads(r["payload"]), attempts=r["attempts"], created_at=r["created_at"])
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

    async def outbox_release(self) -> None:
        """Release every outbox claim (a starting dispatcher: a dead one's claims are void)."""
        await self._call(lambda conn: conn.execute(
            "UPDATE outbox SET lease_until = NULL WHERE done_at IS NULL AND lease_until IS NOT NULL"))

    async def outbox_items(self, *, pending: bool | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Outbox items oldest first, optionally only pending (True) or delivered (False) ones."""
        where = {None: "", True: " WHERE done_at IS NULL", False: " WHERE done_at IS NOT NULL"}[pending]

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(f"SELECT * FROM outbox{where} ORDER BY seq LIMIT ?", (limit,)).fetchall()
            return [{**dict(r), "payload": json.loads(r["payload"])} for r in rows]

        return await self._call(op)

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

    async def record_inbound(self, channel: str, events: Sequence[Event], log: ChannelLog | None
                             ) -> list[InboundOutcome]:
        """Store every event of one inbound request in one transaction."""

        def op(conn: sqlite3.Connection) -> list[InboundOutcome]:
            outcomes = [_store_event(conn, channel, e) for e in events]
            if self._planner is not None:  # notes cost reads and timestamps: only built when someone is told
                self._notify(conn, _outcome_notes(conn, channel, outcomes))
            if log is not None:
                _insert_log(conn, log)
            return outcomes

        return await self._call(op)

    async def add_log(self, log: ChannelLog) -> None:
        """Store a channel log on its own."""
        await self._call(lambda conn: _insert_log(conn, log))

    async def add_fragment(self, channel: str, fragment: Fragment, join: FragmentJoin, log: ChannelLog | None
                           ) -> tuple[bool, list[InboundOutcome]]:
        """Durably keep one part; when all parts of its key are in, store `join(parts)`'s events in the same
        transaction. Returns (False for a part already held, the stored outcomes or [] while parts are missing).

        A part equal to one already held (a redelivery, even after the join) is not kept twice. A different part
        at a held position means the sender reused the key for a new message: the old parts are joined as they
        are (still unjoined ones reach `join` incomplete) and the new message starts. `join` runs on the store's
        writer thread inside the transaction, so it must be quick and must not raise.
        """
        data = json.dumps(fragment.data, sort_keys=True, ensure_ascii=False)

        def stored(conn: sqlite3.Connection, events: Sequence[Event]) -> list[InboundOutcome]:
            outcomes = [_store_event(conn, channel, e) for e in events]
            if self._planner is not None:
                self._notify(conn, _outcome_notes(conn, channel, outcomes))
            return outcomes

        def parts(conn: sqlite3.Connection) -> list[Fragment]:
            rows = conn.execute("SELECT * FROM fragments WHERE channel = ? AND key = ? AND joined_at IS NULL"
                                " ORDER BY idx", (channel, fragment.key)).fetchall()
            return [Fragment(r["key"], r["idx"], r["total"], json.loads(r["data"])) for r in rows]

        def op(conn: sqlite3.Connection) -> tuple[bool, list[InboundOutcome]]:
            outcomes: list[InboundOutcome] = []
            if log is not None:
                _insert_log(conn, log)
            held = conn.execute("SELECT data, total FROM fragments WHERE channel = ? AND key = ? AND idx = ?",
                                (channel, fragment.key, fragment.index)).fetchone()
            if held is not None and held["data"] == data and held["total"] == fragment.total:
                return False, outcomes
            if held is not None:  # the key now names another message: finish the old one as it is
                leftover = parts(conn)
                if leftover:
                    outcomes += stored(conn, join(leftover))
                conn.execute("DELETE FROM fragments WHERE channel = ? AND key = ?", (channel, fragment.key))
            else:  # parts of a finished message with this key (other positions) belong to that one
                conn.execute("DELETE FROM fragments WHERE channel = ? AND key = ? AND joined_at IS NOT NULL",
                             (channel, fragment.key))
            now = _ts()
            conn.execute("INSERT INTO fragments (channel, key, idx, total, data, created_at) VALUES (?,?,?,?,?,?)",
                         (channel, fragment.key, fragment.index, fragment.total, data, now))
            present = parts(conn)
            if len(present) >= fragment.total:
                outcomes += stored(conn, join(present))
                conn.execute("UPDATE fragments SET joined_at = ? WHERE channel = ? AND key = ?",
                             (now, channel, fragment.key))
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
                f"SELECT external_id FROM messages WHERE channel = ? AND direction = 'in' AND external_id IN ({marks})",
                (channel, *ids))}

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

        return await self._call(lambda conn: _full(conn, message_id))

    async def list_messages(self, *, channel: str | None = None, status: str | None = None,
                            direction: str | None = None, limit: int = 50) -> list[MessageRecord]:
        """Messages newest first, optionally filtered."""
        where, args = _filters(channel=channel, status=status, direction=direction)

        def op(conn: sqlite3.Connection) -> list[MessageRecord]:
            rows = conn.execute(f"SELECT * FROM messages{where} ORDER BY created_at DESC, rowid DESC LIMIT ?",
                                (*args, limit)).fetchall()
            return [_record(r) for r in rows]

        return await self._call(op)

    async def list_logs(self, *, channel: str | None = None, message_id: str | None = None,
                        errors_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
        """Channel logs newest first (already redacted when they were recorded)."""
        where, args = _filters(channel=channel, message_id=message_id)
        if errors_only:
            where += (" AND" if where else " WHERE") + " is_error = 1"

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(f"SELECT data FROM channel_logs{where} ORDER BY seq DESC LIMIT ?",
                                (*args, limit)).fetchall()
            return [json.loads(r["data"]) for r in rows]

        return await self._call(op)

    async def opt_outs(self, *, channel: str | None = None) -> list[dict[str, Any]]:
        """Stored opt-out events, oldest first."""
        where, args = _filters(channel=channel)

        def op(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            return [dict(r) for r in conn.execute(
                f"SELECT channel, address, reason, at FROM opt_outs{where} ORDER BY seq", args)]

        return await self._call(op)


def _filters(**values: str | None) -> tuple[str, tuple[str, ...]]:
    parts = [(f"{k} = ?", v) for k, v in values.items() if v is not None]
    if not parts:
        return "", ()
    return " WHERE " + " AND ".join(p for p, _ in parts), tuple(v for _, v in parts if v is not None)


def _record(row: sqlite3.Row) -> MessageRecord:
    return MessageRecord(
        id=row["id"], channel=row["channel"], direction=row["direction"], to=row["to_addr"],
        from_=row["from_addr"], text=row["text"], status=row["status"],
        external_ids=json.loads(row["external_ids"]) or ([row["external_id"]] if row["external_id"] else []),
        attachments=json.loads(row["attachments"]), metadata=json.loads(row["metadata"]),
        segments=row["segments"], attempts=row["attempts"], error_code=row["error_code"],
        error_reason=row["error_reason"], created_at=row["created_at"], updated_at=row["updated_at"],
        next_attempt_at=row["next_attempt_at"], sending_at=row["sending_at"],
        quick_replies=json.loads(row["quick_replies"]), high_priority=bool(row["high_priority"]))


def _get(conn: sqlite3.Connection, message_id: str) -> MessageRecord | None:
    row = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
    return _record(row) if row else None


def _full(conn: sqlite3.Connection, message_id: str) -> MessageRecord | None:
    record = _get(conn, message_id)
    if record is not None:
        record.history = [dict(r) for r in conn.execute(
            "SELECT status, applied, external_id, error_code, error_reason, at FROM status_history"
            " WHERE message_id = ? ORDER BY seq", (message_id,))]
        for item in record.history:
            item["applied"] = bool(item["applied"])
    return record


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
    applied = status.rank > previous.rank or (status is Status.ERRORED and previous is Status.ERRORED)
    # A replayed report (the current status, or an older one already on record) is neither applied nor recorded
    # twice; errors are the exception: each failed attempt is its own event.
    duplicate = status is not Status.ERRORED and not applied and (previous is status or conn.execute(
        "SELECT 1 FROM status_history WHERE message_id = ? AND status = ? LIMIT 1",
        (message_id, status.value)).fetchone() is not None)
    if not duplicate:
        conn.execute(
            "INSERT INTO status_history (message_id, channel, status, applied, external_id, error_code, error_reason,"
            " at) VALUES (?,?,?,?,?,?,?,?)",
            (message_id, channel, status.value, int(applied), external_id, error_code, error_reason, _ts(at)))
    if applied:
        conn.execute("UPDATE messages SET status = ?, updated_at = ?, error_code = COALESCE(?, error_code),"
                     " error_reason = COALESCE(?, error_reason) WHERE id = ?",
                     (status.value, _ts(), error_code, error_reason, message_id))
    return StatusChange(message_id, previous, status if applied else previous, applied)


def _store_event(conn: sqlite3.Connection, channel: str, event: Event) -> InboundOutcome:
    if isinstance(event, IncomingMessage):
        now = _ts()
        cur = conn.execute(
            "INSERT OR IGNORE INTO messages (id, channel, direction, to_addr, from_addr, text, status, external_id,"
            " external_ids, attachments, metadata, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (event.id, channel, "in", event.to, event.from_, event.text, "received", event.external_id,
             json.dumps([event.external_id] if event.external_id else []), json.dumps(event.attachments),
             json.dumps({"received_at": _ts(event.received_at), "raw": event.raw}, default=str), now, now))
        if cur.rowcount == 1:
            return InboundOutcome(event)
        row = conn.execute("SELECT id FROM messages WHERE channel = ? AND direction = 'in' AND external_id = ?",
                           (channel, event.external_id)).fetchone()
        if row is not None:  # a retried delivery: answer with the id stored the first time
            event.id = row["id"]
        return InboundOutcome(event, created=False)
    if isinstance(event, StatusUpdate):
        message_id = event.message_id
        if message_id is not None:
            row = conn.execute("SELECT id FROM messages WHERE id = ? AND direction = 'out'", (message_id,)).fetchone()
            message_id = row["id"] if row else None
        if message_id is None and event.external_id:
            row = conn.execute("SELECT message_id FROM external_ids WHERE channel = ? AND external_id = ?",
                               (channel, event.external_id)).fetchone()
            message_id = row["message_id"] if row else None
        if message_id is None:  # keep the report: a 2xx promises it is stored, even for a message we never sent
            reference = event.external_id or event.message_id
            if conn.execute(  # once: an aggregator replaying an orphan report must not grow the history
                    "SELECT 1 FROM status_history WHERE message_id IS NULL AND channel = ? AND external_id IS ?"
                    " AND status = ? LIMIT 1", (channel, reference, event.status.value)).fetchone() is None:
                conn.execute(
                    "INSERT INTO status_history (message_id, channel, status, applied, external_id, error_code,"
                    " error_reason, at) VALUES (NULL,?,?,0,?,?,?,?)",
                    (channel, event.status.value, reference, event.error_code, event.error_reason, _ts(event.at)))
            return InboundOutcome(event, created=False, change=StatusChange(None, None, None, False))
        status = event.status
        if status is Status.DELIVERED and event.external_id and not _whole_delivered(conn, message_id, event):
            status = Status.SENT  # one part arrived: the message is on its way, not yet delivered whole
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


_EARLY_REPORT_SECONDS = 600


def _adopt_early_reports(conn: sqlite3.Connection, channel: str, external_ids: Sequence[str]) -> list[InboundOutcome]:
    """Apply status reports that arrived for these external ids before the send that got them was recorded.

    A fast SMSC can deliver a receipt on one connection before the answer carrying its message id is processed
    on another; such a report was kept as an orphan (no message). Now that the id is known, it is applied, if it
    arrived in the last ten minutes (an older one is about another message that happened to get the same id).
    """
    if not external_ids:
        return []
    marks = ",".join("?" * len(external_ids))
    since = _ts(utcnow() - timedelta(seconds=_EARLY_REPORT_SECONDS))  # older orphans name some other message
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


def _whole_delivered(conn: sqlite3.Connection, message_id: str, event: StatusUpdate) -> bool:
    """For a message sent as several parts with their own external ids: is it delivered once this part is?

    Each part's `delivered` report is kept in the history (applied or not); the message becomes `delivered`
    only when every part reported it, while a `failed` part fails it at once (same rank: never undone).
    """
    row = conn.execute("SELECT external_ids FROM messages WHERE id = ?", (message_id,)).fetchone()
    parts = set(json.loads(row["external_ids"])) if row else set()
    if len(parts) < 2 or event.external_id not in parts:
        return True
    delivered = {r["external_id"] for r in conn.execute(
        "SELECT external_id FROM status_history WHERE message_id = ? AND status = 'delivered'", (message_id,))}
    if parts <= delivered | {event.external_id}:
        return True  # the caller records this last part's report as the applied `delivered`
    if event.external_id not in delivered:
        conn.execute(
            "INSERT INTO status_history (message_id, channel, status, applied, external_id, error_code, error_reason,"
            " at) SELECT ?, channel, 'delivered', 0, ?, NULL, NULL, ? FROM messages WHERE id = ?",
            (message_id, event.external_id, _ts(event.at), message_id))
    return False


def _insert_log(conn: sqlite3.Connection, log: ChannelLog) -> None:
    data = log.as_dict()
    conn.execute(
        "INSERT INTO channel_logs (id, channel, kind, message_id, is_error, elapsed_ms, created_at, data)"
        " VALUES (?,?,?,?,?,?,?,?)",
        (log.id, log.channel, log.kind, log.message_id, int(bool(log.errors)), log.elapsed_ms, data["created_at"],
         json.dumps(data, ensure_ascii=False)))


# -- notifications: what the platform side is told, built inside the storing transaction ----------------


def _status_note(record: MessageRecord, previous: Status | None, external_id: str | None, error_code: str | None,
                 error_reason: str | None, at: str) -> Notification:
    data = {"id": record.id, "channel": record.channel, "status": record.status,
            "previous": previous.value if previous else None, "to": record.to, "from": record.from_,
            "external_id": external_id, "external_ids": record.external_ids, "segments": record.segments,
            "error_code": error_code, "error_reason": error_reason, "metadata": record.metadata, "at": at}
    return Notification("message.status_changed", record.channel, record.id, data, at, record)


def _change_note(conn: sqlite3.Connection, change: StatusChange, external_id: str | None, error_code: str | None,
                 error_reason: str | None, at: str) -> Notification:
    assert change.message_id is not None
    record = _get(conn, change.message_id)
    assert record is not None
    return _status_note(record, change.previous, external_id, error_code, error_reason, at)


def _outcome_notes(conn: sqlite3.Connection, channel: str, outcomes: Sequence[InboundOutcome]) -> list[Notification]:
    """The same events the gateway's broadcast hooks fire for, in the same order."""
    notes = []
    for outcome in outcomes:
        event = outcome.event
        if isinstance(event, IncomingMessage) and outcome.created:
            at = _ts(event.received_at)
            data = {"id": event.id, "channel": channel, "from": event.from_, "to": event.to, "text": event.text,
                    "attachments": event.attachments, "external_id": event.external_id, "received_at": at}
            notes.append(Notification("message.received", channel, event.id, data, _ts()))
        elif isinstance(event, StatusUpdate) and outcome.change and outcome.change.applied:
            notes.append(_change_note(conn, outcome.change, event.external_id, event.error_code, event.error_reason,
                                      _ts(event.at)))
        elif isinstance(event, OptOut):
            data = {"channel": channel, "address": event.address, "reason": event.reason, "at": _ts(event.at)}
            notes.append(Notification("contact.opted_out", channel, f"opt-out:{channel}:{event.address}", data,
                                      _ts(event.at)))
    return notes
