"""Batched writes of the send path: the "sending" marks and the outcomes of one loop tick, one writer job each.

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
from ..._models import MessageRecord, SendResult, Status, StatusUpdate, utcnow
from .. import _rules
from .._records import InboundOutcome, StatusChange
from ._rows import _full, _history, _insert_log, _record
from ._statuses import _adopt_early_reports, _seen, _store_event

__all__ = ["Outcome", "mark_many", "record_outcomes"]

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
