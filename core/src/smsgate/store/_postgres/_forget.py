"""Forgetting one message on request: its text blanked (redaction), or the message deleted with its traces."""

from __future__ import annotations

from typing import Any

from ..._json import loads_stored
from .._records import Forgotten
from ._base import _Base


class _Forget(_Base):
    """Forgetting one message on request: its text blanked (redaction), or the message deleted with its traces."""

    async def redact_message(self, message_id: str) -> Forgotten:
        """Blank a finished message's text and attachments and delete its channel logs (they hold the text as it
        was sent); `pending` (nothing changed) while it may still be sent, `unknown` without such a message."""

        async def op(conn: Any) -> Forgotten:
            # the row lock keeps a worker from claiming it between the check and the update
            status = await conn.fetchval("SELECT status FROM messages WHERE id = $1 FOR UPDATE", message_id)
            if status is None:
                return "unknown"
            if status in ("queued", "errored"):
                return "pending"
            await conn.execute("UPDATE messages SET text = '', attachments = '[]', updated_at = now() WHERE id = $1",
                               message_id)
            await conn.execute("DELETE FROM channel_logs WHERE message_id = $1", message_id)
            return "done"

        return await self._run(op)

    async def delete_message(self, message_id: str) -> Forgotten:
        """Delete a finished message with its status history, external ids and channel logs; `pending` (nothing
        deleted) while it may still be sent, `unknown` without such a message."""

        async def op(conn: Any) -> Forgotten:
            row = await conn.fetchrow("SELECT channel, status, external_ids FROM messages WHERE id = $1 FOR UPDATE",
                                      message_id)
            if row is None:
                return "unknown"
            if row["status"] in ("queued", "errored"):
                return "pending"
            await conn.execute("DELETE FROM status_history WHERE message_id = $1", message_id)
            for ext in loads_stored(row["external_ids"]) or ():
                await conn.execute("DELETE FROM external_ids WHERE channel = $1 AND external_id = $2"
                                   " AND message_id = $3", row["channel"], ext, message_id)
            await conn.execute("DELETE FROM channel_logs WHERE message_id = $1", message_id)
            await conn.execute("DELETE FROM messages WHERE id = $1", message_id)
            return "done"

        return await self._run(op)
