"""Rows to records and back, and the console's cursors: how messages and logs are read and written."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..._events import timestamp as _ts
from ..._http._channellog import ChannelLog
from ..._json import loads_stored
from ..._models import MessageRecord


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


