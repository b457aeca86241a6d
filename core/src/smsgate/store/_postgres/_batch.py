"""A tick's send outcomes in four statements on PostgreSQL, whatever their number (the common case).

One by one, an outcome costs three or four round trips inside the batch's transaction (its UPDATE, the external
ids and early reports, its history and log), and on this path each round trip is a socket write and read that
the event loop pays for: at 50 outcomes a tick they were most of the instance's time. `record_together` stores
the outcomes of one batch with one UPDATE over `unnest` arrays (the status rule in SQL as for one), one
statement taking the external ids' advisory locks in one order, one inserting the external ids and reading
any early report, and one inserting the history rows and channel logs and reading the histories back.

It answers None, and the caller undoes it (a savepoint) and stores the outcomes one by one, whenever an outcome
needs what only that path does: events of its own (an opt-out), an early report waiting for its external id,
a status that did not move (the history's replay rule), or a message named twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from ... import _events
from ..._events import PlatformEvent
from ..._events import timestamp as _ts
from ..._http._channellog import ChannelLog
from ..._models import SendResult, Status, StatusUpdate, utcnow
from .. import _rules
from .._records import StatusChange
from ._rows import _record
from ._statuses import _EARLY_REPORT_SECONDS, _RANK

__all__ = ["record_together"]

_MOVES = (f"({_RANK.format(col='u.status')} > {_RANK.format(col='old.status')}"
          " OR (u.status = 'errored' AND old.status = 'errored'))")


async def record_together(conn: Any, items: Sequence[tuple[str, SendResult, ChannelLog | None]]
                          ) -> tuple[list[StatusChange], list[PlatformEvent]] | None:
    """Store `items` set-wise; each one's change (in order) and the events to plan, or None for the one-by-one
    path (nothing this call wrote may then stand: the caller rolls it back)."""
    ids = [message_id for message_id, _, _ in items]
    if len(set(ids)) != len(ids) or any(result.events for _, result, _ in items):
        return None
    now = utcnow()
    rows = await conn.fetch(
        "WITH u AS (SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[],"
        " $7::text[], $8::int[]) AS u(id, segments, first_ext, ext_ids, error_code, error_reason, status, n)),"
        " old AS (SELECT m.id, m.status FROM messages m JOIN u ON m.id = u.id ORDER BY m.id FOR UPDATE OF m)"
        " UPDATE messages m SET lease_until = NULL, lease_holder = NULL, sending_at = NULL, next_attempt_at = NULL,"
        " segments = u.segments, external_id = COALESCE(u.first_ext, m.external_id), external_ids = u.ext_ids,"
        " error_code = u.error_code, error_reason = u.error_reason,"
        f" status = CASE WHEN {_MOVES} THEN u.status ELSE old.status END,"
        f" updated_at = CASE WHEN {_MOVES} THEN $9 ELSE m.updated_at END"
        " FROM u JOIN old ON old.id = u.id WHERE m.id = u.id RETURNING u.n, old.status AS previous_status, m.*",
        ids, [r.segments for _, r, _ in items], [r.external_ids[0] if r.external_ids else None for _, r, _ in items],
        [json.dumps(r.external_ids) for _, r, _ in items], [r.error_code for _, r, _ in items],
        [r.error_reason for _, r, _ in items], [r.status.value for _, r, _ in items], list(range(len(items))), now)
    if len(rows) != len(items):  # an unknown id: its KeyError is the one-by-one path's to raise
        return None
    by_index = {row["n"]: row for row in rows}
    applied = [row["status"] == result.status.value and _rules.moves(Status(row["previous_status"]), result.status)
               for row, (_, result, _) in ((by_index[i], item) for i, item in enumerate(items))]
    if not all(applied):
        return None
    pairs = sorted({(by_index[i]["channel"], ext, message_id)
                    for i, (message_id, result, _) in enumerate(items) for ext in result.external_ids})
    if pairs:
        # the locks a report arriving meanwhile waits on (see _store_event), taken in one order, then the
        # early reports committed before them
        await conn.execute(
            "SELECT count(pg_advisory_xact_lock(hashtextextended('ext:' || c || ':' || e, 0)))"
            " FROM unnest($1::text[], $2::text[]) AS x(c, e)", [p[0] for p in pairs], [p[1] for p in pairs])
        early = await conn.fetchval(
            "WITH e AS (INSERT INTO external_ids (channel, external_id, message_id)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[])"
            " ON CONFLICT (channel, external_id) DO UPDATE SET message_id = EXCLUDED.message_id)"
            " SELECT count(*) FROM status_history h JOIN unnest($1::text[], $2::text[]) AS x(c, e)"
            " ON h.channel = x.c AND h.external_id = x.e WHERE h.message_id IS NULL AND h.at >= $4",
            [p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs],
            now - timedelta(seconds=_EARLY_REPORT_SECONDS))
        if early:
            return None
    logs = [(log, log.as_dict()) for _, _, log in items if log is not None]
    history = await conn.fetch(
        "WITH h AS (INSERT INTO status_history (message_id, channel, status, applied, error_code, error_reason, at)"
        " SELECT i, c, s, TRUE, ec, er, $7 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::int[]) AS u(i, c, s, ec, er, n) ORDER BY n"
        " RETURNING message_id, seq, status, applied, channel, external_id, error_code, error_reason, at),"
        " l AS (INSERT INTO channel_logs (id, channel, kind, message_id, is_error, elapsed_ms, created_at, data)"
        " SELECT * FROM unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::boolean[], $14::float8[],"
        " $15::timestamptz[], $16::text[]))"
        " SELECT message_id, seq, status, applied, channel, external_id, error_code, error_reason, at"
        " FROM status_history WHERE message_id = ANY($8::text[]) UNION ALL SELECT * FROM h ORDER BY seq",
        ids, [by_index[i]["channel"] for i in range(len(items))], [r.status.value for _, r, _ in items],
        [r.error_code for _, r, _ in items], [r.error_reason for _, r, _ in items], list(range(len(items))), now,
        ids, [log.id for log, _ in logs], [log.channel for log, _ in logs], [log.kind for log, _ in logs],
        [log.message_id for log, _ in logs], [bool(log.errors) for log, _ in logs],
        [log.elapsed_ms for log, _ in logs], [datetime.fromisoformat(data["created_at"]) for _, data in logs],
        [json.dumps(data, ensure_ascii=False) for _, data in logs])
    histories: dict[str, list[dict[str, Any]]] = {}
    for row in history:
        histories.setdefault(row["message_id"], []).append(
            {k: (_ts(v) if k == "at" else v) for k, v in row.items() if k not in ("seq", "message_id")})
    changes: list[StatusChange] = []
    events: list[PlatformEvent] = []
    for i, (message_id, result, _) in enumerate(items):
        row = by_index[i]
        record = _record(row)
        record.history = histories.get(message_id, [])
        previous, channel = Status(row["previous_status"]), row["channel"]
        update = StatusUpdate(channel, result.status, message_id, error_code=result.error_code,
                              error_reason=result.error_reason)
        event = _events.status_changed(channel, update, previous, result.status, _record(row))
        events.append(event)
        changes.append(StatusChange(message_id, previous, result.status, True, record, (event,)))
    return changes, events
