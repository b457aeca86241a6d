"""Outgoing messages and their sends: queue, claim, the sending mark, outcomes, backoff, giving up."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta

from ... import _events
from ..._events import PlatformEvent
from ..._events import timestamp as _ts
from ..._http._channellog import ChannelLog
from ..._json import loads_stored
from ..._models import (
    MessageRecord,
    OutgoingMessage,
    SendResult,
    Status,
    StatusUpdate,
    utcnow,
)
from .. import _rules
from .._limits import day_ends, tps_refusal
from .._records import (
    Added,
    Limits,
    StatusChange,
)
from ._base import _Base
from ._rows import _full, _get, _history, _insert_log, _record
from ._statuses import _adopt_early_reports, _apply_status, _claim, _seen, _store_event


class _Sends(_Base):
    """Outgoing messages and their sends: queue, claim, the sending mark, outcomes, backoff, giving up."""

    async def add_outgoing(self, message: OutgoingMessage, claim_for: float | None = None,
                           limits: Limits | None = None) -> Added:
        """Store a new queued message (a known id: the stored one, not created); claim it if `claim_for`
        seconds are given, in the same write (a direct send pays one trip through the writer thread, not two).
        A new message counts against `limits` in that write too: LimitReached, and nothing stored, past them."""

        def op(conn: sqlite3.Connection) -> Added:
            now = utcnow()
            stamp = _ts(now)
            attachments, metadata, replies = (json.dumps(message.attachments), json.dumps(message.metadata),
                                              json.dumps(message.quick_replies))
            route = json.dumps(message.route) if message.route else None
            # a new message is claimed by the insert itself: nobody else can hold what did not exist
            lease = None if claim_for is None else _ts(now + timedelta(seconds=claim_for))
            created = conn.execute(
                "INSERT OR IGNORE INTO messages (id, channel, direction, to_addr, from_addr, text, status,"
                " attachments, metadata, quick_replies, high_priority, created_at, updated_at, lease_until, attempts,"
                " route, tenant) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (message.id, message.channel, "out", message.to, message.from_, message.text, Status.QUEUED.value,
                 attachments, metadata, replies, int(message.high_priority), stamp, stamp, lease,
                 0 if lease is None else 1, route, message.tenant)).rowcount == 1
            if not created:
                claimed = claim_for is not None and _claim(conn, message.id, claim_for)
                found = _get(conn, message.id)
                assert found is not None
                return Added(found, False, claimed)
            if limits is not None:  # raising undoes this job's savepoint: the message is not stored
                _take(conn, limits, now)
            conn.execute("INSERT INTO status_history (message_id, channel, status, applied, at)"
                         " VALUES (?,?,?,1,?)", (message.id, message.channel, Status.QUEUED.value, stamp))
            # what was just written, without reading it back (the JSON columns as a read would decode them)
            record = MessageRecord(
                id=message.id, channel=message.channel, direction="out", to=message.to, from_=message.from_,
                text=message.text, status=Status.QUEUED.value, external_ids=[],
                attachments=loads_stored(attachments), metadata=loads_stored(metadata), segments=0,
                attempts=0 if lease is None else 1, error_code=None, error_reason=None, created_at=stamp,
                updated_at=stamp, quick_replies=loads_stored(replies), high_priority=bool(message.high_priority),
                route=list(message.route), tenant=message.tenant)
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

    async def claim_due(self, channel: str, *, limit: int = 100, lease_seconds: float = 300,
                        routed: bool = False) -> list[MessageRecord]:
        """Claim up to `limit` due messages of `channel` in one write, oldest first (`routed`: only those a
        route may move to another channel)."""

        def op(conn: sqlite3.Connection) -> list[MessageRecord]:
            now = _ts()
            ids = [r[0] for r in conn.execute(
                # as due(): the partial index of pending messages, so a round costs the queue, not the history
                "SELECT id FROM messages INDEXED BY messages_due WHERE direction = 'out'"
                " AND status IN ('queued', 'errored') AND channel = ?"
                " AND (lease_until IS NULL OR lease_until < ?) AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
                + (" AND route IS NOT NULL" if routed else "") +
                " ORDER BY created_at, rowid LIMIT ?", (channel, now, now, limit))]
            claimed = [_get(conn, i) for i in ids if _claim(conn, i, lease_seconds)]
            return [r for r in claimed if r is not None]

        return await self._call(op)

    async def reroute(self, message_id: str, channel: str, to: str, from_: str, *, error_code: str,
                      error_reason: str, log: ChannelLog | None) -> StatusChange:
        """Move a pending message the caller holds to `channel` (the next of its route), keeping the claim."""

        def op(conn: sqlite3.Connection) -> StatusChange:
            row = conn.execute(
                "SELECT channel, status FROM messages WHERE id = ? AND direction = 'out'"
                " AND status IN ('queued', 'errored') AND lease_until IS NOT NULL", (message_id,)).fetchone()
            if row is None:  # no longer pending, or no longer claimed: nothing moves
                return StatusChange(message_id, None, None, False)
            left, previous = row["channel"], Status(row["status"])
            now = utcnow()
            stamp = _ts(now)
            # the channel left keeps its attempt in the history, under its name and with why it was left
            conn.execute("INSERT INTO status_history (message_id, channel, status, applied, error_code, error_reason,"
                         " at) VALUES (?,?,'errored',1,?,?,?)", (message_id, left, error_code, error_reason, stamp))
            updated = conn.execute(
                "UPDATE messages SET channel = ?, to_addr = ?, from_addr = ?, status = 'errored', error_code = ?,"
                " error_reason = ?, sending_at = NULL, next_attempt_at = NULL, updated_at = ? WHERE id = ?"
                " RETURNING *", (channel, to, from_, error_code, error_reason, stamp, message_id)).fetchone()
            record = _record(updated)
            update = StatusUpdate(left, Status.ERRORED, message_id, error_code=error_code, error_reason=error_reason,
                                  at=now)
            events = (_events.status_changed(left, update, previous, Status.ERRORED, record),)
            self._plan(conn, events)
            if log is not None:
                _insert_log(conn, log)
            return StatusChange(message_id, previous, Status.ERRORED, True, record, events)

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


def _take(conn: sqlite3.Connection, limits: Limits, now: datetime) -> None:
    """Count one new message against a tenant's limits (GCRA for `tps`, a counter per UTC day); LimitReached past
    either. One process writes a SQLite file, so the rows are read and then written in its transaction."""
    if limits.tps is not None:
        key, clock = f"tps:{limits.tenant}", now.timestamp()
        row = conn.execute("SELECT tat FROM tenant_limits WHERE key = ?", (key,)).fetchone()
        tat = max(row["tat"] if row is not None and row["tat"] is not None else clock, clock)
        tps_refusal(limits, tat - clock)
        conn.execute("INSERT INTO tenant_limits (key, tat) VALUES (?, ?)"
                     " ON CONFLICT (key) DO UPDATE SET tat = excluded.tat", (key, tat + 1.0 / limits.tps))
    if limits.daily is not None:
        key, day = f"day:{limits.tenant}", now.date().isoformat()
        row = conn.execute("SELECT day, used FROM tenant_limits WHERE key = ?", (key,)).fetchone()
        used = row["used"] if row is not None and row["day"] == day else 0
        if used >= limits.daily:
            raise day_ends(limits, day, now)
        conn.execute("INSERT INTO tenant_limits (key, day, used) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET"
                     " day = excluded.day, used = excluded.used", (key, day, used + 1))
