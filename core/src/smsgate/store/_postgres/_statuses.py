"""How a write changes a message, decided in SQL so instances cannot race: claims, the status rule, inbound
events, parts, early reports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
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

_RANK = "CASE {col} " + " ".join(f"WHEN '{s.value}' THEN {s.rank}" for s in Status) + " ELSE -1 END"


_MOVES = (f"({_RANK.format(col='$7')} > {_RANK.format(col='old.status')}"
          " OR ($7 = 'errored' AND old.status = 'errored'))")


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
    wired_at = None
    if applied and status is Status.DELIVERED:  # the delivery's latency starts when the aggregator took it
        wired = await conn.fetchval("SELECT at FROM status_history WHERE message_id = $1 AND status = 'wired'"
                                    " AND applied ORDER BY seq LIMIT 1", message_id)
        wired_at = None if wired is None else _ts(wired)
    return StatusChange(message_id, previous, status if applied else previous, applied, wired_at=wired_at)


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
