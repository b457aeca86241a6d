"""Rows to records and back: how a message, its history and a channel log are read and written."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from ..._http._channellog import ChannelLog
from ..._models import MessageRecord
from .._shared import message_record


def _filters(**values: str | None) -> tuple[str, tuple[str, ...]]:
    parts = [(f"{k} = ?", v) for k, v in values.items() if v is not None]
    if not parts:
        return "", ()
    return " WHERE " + " AND ".join(p for p, _ in parts), tuple(v for _, v in parts if v is not None)


def _record(row: sqlite3.Row) -> MessageRecord:
    return message_record(row)


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
        "SELECT status, applied, channel, external_id, error_code, error_reason, at FROM status_history"
        " WHERE message_id = ? ORDER BY seq", (message_id,))]
    for item in history:
        item["applied"] = bool(item["applied"])
    return history


_LOG = "INSERT INTO channel_logs (id, channel, kind, message_id, is_error, elapsed_ms, created_at, data) VALUES "
_LOG_ROW = "(?,?,?,?,?,?,?,?)"


def _log_row(log: ChannelLog) -> tuple[Any, ...]:
    """The values of `_LOG_ROW` for a channel log."""
    data = log.as_dict()
    return (log.id, log.channel, log.kind, log.message_id, int(bool(log.errors)), log.elapsed_ms, data["created_at"],
            json.dumps(data, ensure_ascii=False))


def _insert_log(conn: sqlite3.Connection, log: ChannelLog) -> None:
    conn.execute(_LOG + _LOG_ROW, _log_row(log))


def _insert_logs(conn: sqlite3.Connection, logs: Sequence[ChannelLog]) -> None:
    """Several channel logs in one statement (in their order, so their `seq` follows it)."""
    for start in range(0, len(logs), _ROWS_PER_STATEMENT):
        chunk = logs[start:start + _ROWS_PER_STATEMENT]
        conn.execute(_LOG + ",".join([_LOG_ROW] * len(chunk)), [v for log in chunk for v in _log_row(log)])


_ROWS_PER_STATEMENT = 500
"""Rows of one multi-row INSERT: 500 x 13 values stays far under SQLite's 32,766 bound variables."""
