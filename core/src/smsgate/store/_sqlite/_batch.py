"""Batched writes of the send path: many messages queued at once (the batch API), and the "sending" marks and
the outcomes of one loop tick, one writer job each.

`_Sends.mark_sending` and `_Sends.record_send` go through `Coalescer`s (`store._coalesce`): the marks made in
one tick become one `UPDATE ... WHERE id IN (...)`, the outcomes one job whose items each run in a savepoint
of their own (one failing outcome is rolled back and answered with its error alone; its neighbours commit).
Every caller still returns only after the transaction holding its write committed.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from ... import _events
from ..._events import PlatformEvent
from ..._events import timestamp as _ts
from ..._http._channellog import ChannelLog
from ..._json import loads_stored
from ..._models import MessageRecord, OutgoingMessage, SendResult, Status, StatusUpdate, utcnow
from .. import _rules
from .._records import Added, InboundOutcome, StatusChange
from ._rows import _full, _history, _insert_log, _record
from ._statuses import _adopt_early_reports, _seen, _store_event

__all__ = ["Outcome", "add_many", "mark_many", "record_outcomes"]

Outcome = tuple[str, SendResult, ChannelLog | None]
"""What `record_send` is given: the message id, the send's result, its channel log."""

_MARK_CHUNK = 500  # well under SQLite's bound-variable limit


def mark_many(conn: sqlite3.Connection, ids: Sequence[str]) -> list[bool]:
    """Mark every message of `ids` as being sent (a request of its current claim goes out): one statement per
    chunk; for each id, whether it is still pending and claimed (False: its request must not leave)."""
    held: set[str] = set()
    stamp = _ts()
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _MARK_CHUNK):
        chunk = unique[start:start + _MARK_CHUNK]
        held.update(row[0] for row in conn.execute(
            "UPDATE messages SET sending_at = COALESCE(sending_at, ?) WHERE id IN"
            f" ({','.join('?' * len(chunk))}) AND lease_until IS NOT NULL AND status IN ('queued', 'errored')"
            " RETURNING id", (stamp, *chunk)))
    return [message_id in held for message_id in ids]


def record_outcomes(conn: sqlite3.Connection, items: Sequence[Outcome], planned: bool,
                    plan: Callable[[sqlite3.Connection, Sequence[PlatformEvent]], None],
                    read: Callable[[sqlite3.Connection], Callable[[str], MessageRecord | None] | None]
                    ) -> list[StatusChange | BaseException]:
    """Store each send outcome of `items` in a savepoint of its own; its change, or the error it raised."""
    answers: list[StatusChange | BaseException] = []
    for message_id, result, log in items:
        conn.execute("SAVEPOINT outcome")
        try:
            change = _record_one(conn, message_id, result, log, planned, plan, read)
        except Exception as exc:  # this outcome alone is undone
            conn.execute("ROLLBACK TO outcome")
            conn.execute("RELEASE outcome")
            if isinstance(exc, sqlite3.OperationalError):  # the database's trouble, not the outcome's: every
                raise  # item fails, as a failed commit fails them
            answers.append(exc)
        else:
            conn.execute("RELEASE outcome")
            answers.append(change)
    return answers


def _record_one(conn: sqlite3.Connection, message_id: str, result: SendResult, log: ChannelLog | None,
                planned: bool, plan: Callable[[sqlite3.Connection, Sequence[PlatformEvent]], None],
                read: Callable[[sqlite3.Connection], Callable[[str], MessageRecord | None] | None]) -> StatusChange:
    """One send's outcome: its external ids, the status by the rule, history, events, channel log; the claim
    released. The row is read once; the record answered is that row with what this write changed."""
    row = conn.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        raise KeyError(message_id)
    channel = row["channel"]
    if result.external_ids:
        conn.executemany("INSERT OR REPLACE INTO external_ids (channel, external_id, message_id) VALUES (?,?,?)",
                         [(channel, ext, message_id) for ext in result.external_ids])
    previous = Status(row["status"])
    applied = _rules.moves(previous, result.status)
    now = utcnow()
    stamp = _ts(now)
    if _rules.recorded(previous, result.status, applied, _seen(conn, message_id, previous, result.status, applied)):
        conn.execute(
            "INSERT INTO status_history (message_id, channel, status, applied, external_id, error_code,"
            " error_reason, at) VALUES (?,?,?,?,NULL,?,?,?)",
            (message_id, channel, result.status.value, int(applied), result.error_code, result.error_reason, stamp))
    changed: dict[str, Any] = {
        "lease_until": None, "sending_at": None, "next_attempt_at": None, "segments": result.segments,
        "external_id": result.external_ids[0] if result.external_ids else row["external_id"],
        "external_ids": json.dumps(result.external_ids), "error_code": result.error_code,
        "error_reason": result.error_reason, "status": result.status.value if applied else row["status"],
        "updated_at": stamp if applied else row["updated_at"]}
    conn.execute(
        "UPDATE messages SET lease_until = NULL, sending_at = NULL, next_attempt_at = NULL, segments = ?,"
        " external_id = ?, external_ids = ?, error_code = ?, error_reason = ?, status = ?, updated_at = ?"
        " WHERE id = ?",
        (changed["segments"], changed["external_id"], changed["external_ids"], changed["error_code"],
         changed["error_reason"], changed["status"], changed["updated_at"], message_id))
    record = _record({**dict(row), **changed})  # type: ignore[arg-type]
    change = StatusChange(message_id, previous, result.status if applied else previous, applied)
    events: list[PlatformEvent] = []
    if applied:
        update = StatusUpdate(channel, result.status, message_id, error_code=result.error_code,
                              error_reason=result.error_reason, at=now)
        events.append(_events.status_changed(channel, update, previous, result.status,
                                             record if planned else None))
    # reports that overtook this answer (a fast SMSC's receipt on another connection), then the send's own
    # events (an opt-out)
    outcomes: list[InboundOutcome] = _adopt_early_reports(conn, channel, result.external_ids)
    outcomes += [_store_event(conn, channel, event) for event in result.events]
    if outcomes:
        events.extend(_events.from_inbound(channel, outcomes, read(conn)))
        full = _full(conn, message_id)
        assert full is not None
        record = full
    else:
        record.history = _history(conn, message_id)
    plan(conn, events)
    if log is not None:
        _insert_log(conn, log)
    return StatusChange(change.message_id, change.previous, change.current, change.applied, record, tuple(events))


_ROWS_PER_INSERT = 500  # 15 values a row: well under SQLite's bound-variable limit (32,766)


def add_many(conn: sqlite3.Connection, messages: Sequence[OutgoingMessage], planned: bool,
             plan: Callable[[sqlite3.Connection, Sequence[PlatformEvent]], None]) -> list[Added]:
    """Store `messages` as queued with multi-row INSERTs (known ids: the stored message, not created); the
    queued events of the new ones planned in the same transaction."""
    now = utcnow()
    stamp = _ts(now)
    encoded = [(json.dumps(m.attachments), json.dumps(m.metadata), json.dumps(m.quick_replies)) for m in messages]
    created: set[str] = set()
    for start in range(0, len(messages), _ROWS_PER_INSERT):
        chunk = list(zip(messages[start:start + _ROWS_PER_INSERT], encoded[start:start + _ROWS_PER_INSERT],
                         strict=True))
        values: list[Any] = []
        for message, (attachments, metadata, replies) in chunk:
            values += [message.id, message.channel, "out", message.to, message.from_, message.text,
                       Status.QUEUED.value, attachments, metadata, replies, int(message.high_priority), stamp, stamp,
                       json.dumps(message.route) if message.route else None, message.tenant]
        created.update(row[0] for row in conn.execute(
            "INSERT OR IGNORE INTO messages (id, channel, direction, to_addr, from_addr, text, status, attachments,"
            " metadata, quick_replies, high_priority, created_at, updated_at, route, tenant) VALUES "
            + ",".join(["(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"] * len(chunk)) + " RETURNING id", values))
    fresh = [m for m in messages if m.id in created]
    if fresh:
        conn.executemany("INSERT INTO status_history (message_id, channel, status, applied, at) VALUES (?,?,?,1,?)",
                         [(m.id, m.channel, Status.QUEUED.value, stamp) for m in fresh])
    known = [m.id for m in messages if m.id not in created]
    stored: dict[str, MessageRecord] = {}
    for start in range(0, len(known), _MARK_CHUNK):
        chunk_ids = known[start:start + _MARK_CHUNK]
        stored.update((row["id"], _record(row)) for row in conn.execute(
            f"SELECT * FROM messages WHERE id IN ({','.join('?' * len(chunk_ids))})", chunk_ids))
    answers: list[Added] = []
    events: list[PlatformEvent] = []
    seen: set[str] = set()
    for message, (attachments, metadata, replies) in zip(messages, encoded, strict=True):
        if message.id not in created or message.id in seen:  # a known id, or one given twice in this batch
            record = stored.get(message.id) or next(a.record for a in answers if a.record.id == message.id)
            answers.append(Added(record, False))
            continue
        seen.add(message.id)
        record = MessageRecord(
            id=message.id, channel=message.channel, direction="out", to=message.to, from_=message.from_,
            text=message.text, status=Status.QUEUED.value, external_ids=[], attachments=loads_stored(attachments),
            metadata=loads_stored(metadata), segments=0, attempts=0, error_code=None, error_reason=None,
            created_at=stamp, updated_at=stamp, quick_replies=loads_stored(replies),
            high_priority=bool(message.high_priority), route=list(message.route), tenant=message.tenant)
        update = StatusUpdate(message.channel, Status.QUEUED, message.id, at=now)
        queued = (_events.status_changed(message.channel, update, None, Status.QUEUED, record if planned else None),)
        events.extend(queued)
        answers.append(Added(record, True, False, queued))
    plan(conn, events)
    return answers
