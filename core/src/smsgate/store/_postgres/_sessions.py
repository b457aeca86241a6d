"""Console sessions that were signed out: kept until they would have expired, refused by every instance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ._base import _Base

__all__ = ["_Sessions"]


class _Sessions(_Base):
    """Console sessions that were signed out: kept until they would have expired, refused by every instance."""

    async def revoke_session(self, sid: str, until: datetime) -> None:
        """Refuse console session `sid` from now until `until` (when its cookie would have expired anyway)."""

        async def op(conn: Any) -> None:
            # revoked sessions past their expiry are forgotten here, a few at a time: no other upkeep needed
            await conn.execute("DELETE FROM console_revoked WHERE sid IN (SELECT sid FROM console_revoked"
                               " WHERE until < now() ORDER BY until LIMIT 100)")
            await conn.execute("INSERT INTO console_revoked (sid, until) VALUES ($1, $2)"
                               " ON CONFLICT (sid) DO UPDATE SET until = EXCLUDED.until", sid, until)

        await self._run(op)

    async def session_revoked(self, sid: str) -> bool:
        """Whether console session `sid` was signed out (on any instance)."""
        return bool(await self._run(lambda conn: conn.fetchval("SELECT EXISTS (SELECT 1 FROM console_revoked"
                                                               " WHERE sid = $1)", sid), transaction=False))
