"""Rows to records and back, and the console's cursors: how messages and logs are read and written."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..._events import timestamp as _ts
from ..._http._channellog import ChannelLog
from ..._json import loads_stored
from ..._models import MessageRecord
from .._shared import message_record


def _when(value: datetime | None) -> str | None:
    return None if value is None else _ts(value)


def _record(row: Any) -> MessageRecord:
    return message_record(row, _when)


async def _get(conn: Any, message_id: str) -> MessageRecord | None:
    row = await conn.fetchrow("SELECT * FROM messages WHERE id = $1", message_id)
    return _record(row) if row else None


async def _full(conn: Any, message_id: str) -> MessageRecord | None:
    record = await _get(conn, message_id)
    if record is not None:
        rows = await conn.fetch("SELECT status, applied, channel, external_id, error_code, error_reason, at"
                                " FROM status_history WHERE message_id = $1 ORDER BY seq", message_id)
        record.history = [{**dict(r), "at": _ts(r["at"])} for r in rows]
    return record


async def _insert_log(conn: Any, clog: ChannelLog) -> None:
    data = clog.as_dict()
    await conn.execute(
        "INSERT INTO channel_logs (id, channel, kind, message_id, is_error, elapsed_ms, created_at, data)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        clog.id, clog.channel, clog.kind, clog.message_id, bool(clog.errors), clog.elapsed_ms,
        datetime.fromisoformat(data["created_at"]), json.dumps(data, ensure_ascii=False))


def _filters(**values: str | None) -> tuple[str, list[str]]:
    parts = [(k, v) for k, v in values.items() if v is not None]
    if not parts:
        return "", []
    return " WHERE " + " AND ".join(f"{k} = ${i}" for i, (k, _) in enumerate(parts, 1)), [v for _, v in parts]


def _outbox_item(row: Any) -> dict[str, Any]:
    times = ("next_attempt_at", "lease_until", "created_at", "done_at")
    return {**dict(row), "payload": loads_stored(row["payload"]), **{k: _when(row[k]) for k in times}}


