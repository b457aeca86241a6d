"""Console sessions that were signed out: kept until they would have expired, refused by every reader."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from ..._events import timestamp as _ts
from ..._models import utcnow
from ._base import _Base

__all__ = ["_Sessions"]


class _Sessions(_Base):
    """Console sessions that were signed out: kept until they would have expired, refused by every reader."""

    async def revoke_session(self, sid: str, until: datetime) -> None:
        """Refuse console session `sid` from now until `until` (when its cookie would have expired anyway)."""

        def op(conn: sqlite3.Connection) -> None:
            # revoked sessions past their expiry are forgotten here, a few at a time: no other upkeep needed
            conn.execute("DELETE FROM console_revoked WHERE sid IN (SELECT sid FROM console_revoked WHERE until < ?"
                         " ORDER BY until LIMIT 100)", (_ts(utcnow()),))
            conn.execute("INSERT OR REPLACE INTO console_revoked (sid, until) VALUES (?, ?)", (sid, _ts(until)))

        await self._call(op)

    async def session_revoked(self, sid: str) -> bool:
        """Whether console session `sid` was signed out (on any instance)."""
        return await self._read(lambda conn: conn.execute("SELECT 1 FROM console_revoked WHERE sid = ?",
                                                          (sid,)).fetchone() is not None)
