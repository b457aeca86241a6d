"""How a write changes a message: claims, the status rule applied to a row, inbound events, parts, early reports."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from ..._events import timestamp as _ts
from ..._http._channellog import ChannelLog
from ..._json import loads_stored
from ..._models import (
    Event,
    Ignored,
    IncomingMessage,
    OptOut,
    Status,
    StatusUpdate,
    utcnow,
)
from .. import _rules
from .._records import (
    InboundOutcome,
    StatusChange,
)


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
    wired_at = None
    if applied:
        conn.execute("UPDATE messages SET status = ?, updated_at = ?, error_code = COALESCE(?, error_code),"
                     " error_reason = COALESCE(?, error_reason) WHERE id = ?",
                     (status.value, _ts(), error_code, error_reason, message_id))
        if status is Status.DELIVERED:  # the delivery's latency starts when the aggregator took it (a few rows)
            row = conn.execute("SELECT at FROM status_history WHERE message_id = ? AND status = 'wired' AND applied = 1"
                               " ORDER BY seq LIMIT 1", (message_id,)).fetchone()
            wired_at = row["at"] if row else None
    return StatusChange(message_id, previous, status if applied else previous, applied, wired_at=wired_at)


_NEW_MESSAGE = ("INSERT OR IGNORE INTO messages (id, channel, direction, to_addr, from_addr, text, status, external_id,"
                " external_ids, attachments, metadata, created_at, updated_at) VALUES ")
_NEW_MESSAGE_ROW = "(?,?,?,?,?,?,?,?,?,?,?,?,?)"


def _new_message_row(channel: str, event: IncomingMessage) -> tuple[Any, ...]:
    """The values of `_NEW_MESSAGE_ROW` for an incoming message."""
    now = _ts()
    return (event.id, channel, "in", event.to, event.from_, event.text, "received", event.external_id,
            json.dumps([event.external_id] if event.external_id else []), json.dumps(event.attachments),
            json.dumps({"received_at": _ts(event.received_at), "raw": event.raw}, default=str), now, now)


def _new_message_outcome(conn: sqlite3.Connection, channel: str, event: IncomingMessage, created: bool,
                         log: ChannelLog | None) -> InboundOutcome:
    """What storing `event` made: new, or a retried delivery answered with the id stored the first time."""
    if created:
        if log is not None and log.message_id is None:
            log.message_id = event.id
        return InboundOutcome(event)
    row = conn.execute("SELECT id FROM messages WHERE channel = ? AND direction = 'in' AND external_id = ?",
                       (channel, event.external_id)).fetchone()
    if row is not None:
        event.id = row["id"]
        if log is not None and log.message_id is None:
            log.message_id = event.id
    return InboundOutcome(event, created=False)


def _store_event(conn: sqlite3.Connection, channel: str, event: Event, log: ChannelLog | None = None
                 ) -> InboundOutcome:
    if isinstance(event, IncomingMessage):
        cur = conn.execute(_NEW_MESSAGE + _NEW_MESSAGE_ROW, _new_message_row(channel, event))
        return _new_message_outcome(conn, channel, event, cur.rowcount == 1, log)
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
