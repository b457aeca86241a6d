"""Forgetting one message on request: its text blanked (redaction), or the message deleted with its traces."""

from __future__ import annotations

import sqlite3

from ..._events import timestamp as _ts
from ..._json import loads_stored
from .._records import Forgotten
from ._base import _Base


class _Forget(_Base):
    """Forgetting one message on request: its text blanked (redaction), or the message deleted with its traces."""

    async def redact_message(self, message_id: str) -> Forgotten:
        """Blank a finished message's text and attachments and delete its channel logs (they hold the text as it
        was sent); `pending` (nothing changed) while it may still be sent, `unknown` without such a message."""

        def op(conn: sqlite3.Connection) -> Forgotten:
            row = conn.execute("SELECT status FROM messages WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                return "unknown"
            if row["status"] in ("queued", "errored"):  # the worker would send the blank text
                return "pending"
            conn.execute("UPDATE messages SET text = '', attachments = '[]', updated_at = ? WHERE id = ?",
                         (_ts(), message_id))
            conn.execute("DELETE FROM channel_logs WHERE message_id = ?", (message_id,))
            return "done"

        return await self._call(op)

    async def delete_message(self, message_id: str) -> Forgotten:
        """Delete a finished message with its status history, external ids and channel logs; `pending` (nothing
        deleted) while it may still be sent, `unknown` without such a message."""

        def op(conn: sqlite3.Connection) -> Forgotten:
            row = conn.execute("SELECT channel, status, external_ids FROM messages WHERE id = ?",
                               (message_id,)).fetchone()
            if row is None:
                return "unknown"
            if row["status"] in ("queued", "errored"):
                return "pending"
            conn.execute("DELETE FROM status_history WHERE message_id = ?", (message_id,))
            for ext in loads_stored(row["external_ids"]) or ():
                conn.execute("DELETE FROM external_ids WHERE channel = ? AND external_id = ? AND message_id = ?",
                             (row["channel"], ext, message_id))
            conn.execute("DELETE FROM channel_logs WHERE message_id = ?", (message_id,))
            conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            return "done"

        return await self._call(op)
