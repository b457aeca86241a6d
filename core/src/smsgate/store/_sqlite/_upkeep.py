"""Upkeep: retention of logs, delivered calls and finished messages; liveness; channels' links; named leases."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from ..._events import timestamp as _ts
from ..._json import loads_stored
from ..._models import utcnow
from ...errors import StoreUnavailable
from .._records import LinkSeen
from ._base import _Base

_PRUNE_PAUSE = 0.005


class _Upkeep(_Base):
    """Upkeep: retention of logs, delivered calls and finished messages; liveness; channels' links; named leases."""

    async def prune(self, before: datetime) -> int:
        """Delete channel logs, delivered outbox items and joined fragments older than `before`; rows deleted."""
        cutoff, total = _ts(before), 0
        # Small chunks, oldest rows first by primary key (rows are written in time order): each chunk is one
        # short job, so inbound callbacks waiting for a commit never queue behind a long delete.
        chunks = ("DELETE FROM channel_logs WHERE seq IN (SELECT seq FROM channel_logs ORDER BY seq LIMIT 2000)"
                  " AND created_at < ?",
                  "DELETE FROM fragments WHERE rowid IN (SELECT rowid FROM fragments WHERE joined_at IS NOT NULL"
                  " LIMIT 2000) AND joined_at < ?",
                  "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE done_at IS NOT NULL ORDER BY seq"
                  " LIMIT 2000) AND done_at < ?")
        for sql in chunks:
            def chunk(conn: sqlite3.Connection, sql: str = sql) -> int:
                return conn.execute(sql, (cutoff,)).rowcount

            while True:
                deleted = await self._call(chunk)
                total += deleted
                if deleted == 0:
                    break
        return total

    async def ping(self) -> bool:
        """Whether the file answers now (`/healthz`): a read through the writer thread."""
        try:
            await asyncio.wait_for(self._call(lambda conn: conn.execute("SELECT 1").fetchone()), 10)
        except (StoreUnavailable, sqlite3.Error, TimeoutError):
            return False
        return True

    async def prune_messages(self, before: datetime, *, chunk: int = 200) -> int:
        """Delete finished messages created before `before` (not queued or errored), with their status history
        and external ids, and status reports that named no message recorded before `before`; messages deleted.

        Oldest first, `chunk` messages per write, each chunk starting where the previous one stopped (messages
        still pending there are stepped over, not read again). Each chunk is one short job with a pause after
        it, so callbacks committing meanwhile never queue behind the deletion."""
        cutoff = _ts(before)
        position = 0
        total = 0

        def chunk_of_messages(conn: sqlite3.Connection) -> int:
            nonlocal position
            # in the order they were stored: the oldest first, by the table's own key (no index to keep up)
            rows = conn.execute("SELECT rowid, id, channel, external_ids, status, created_at FROM messages"
                                " WHERE rowid > ? ORDER BY rowid LIMIT ?", (position, chunk)).fetchall()
            old = [r for r in rows if r["created_at"] < cutoff]
            if not old:  # the end, or messages newer than the cutoff from here on
                return -1
            position = rows[-1]["rowid"]
            done = [r for r in old if r["status"] not in ("queued", "errored")]
            for row in done:
                conn.execute("DELETE FROM status_history WHERE message_id = ?", (row["id"],))
                for ext in loads_stored(row["external_ids"]) or ():
                    conn.execute("DELETE FROM external_ids WHERE channel = ? AND external_id = ? AND message_id = ?",
                                 (row["channel"], ext, row["id"]))
                conn.execute("DELETE FROM messages WHERE rowid = ?", (row["rowid"],))
            return len(done)

        while (deleted := await self._call(chunk_of_messages)) >= 0:
            total += deleted
            await asyncio.sleep(_PRUNE_PAUSE)

        def orphans(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM status_history WHERE seq IN (SELECT seq FROM status_history"
                                " WHERE message_id IS NULL AND at < ? LIMIT ?)", (cutoff, chunk)).rowcount

        while await self._call(orphans):
            await asyncio.sleep(_PRUNE_PAUSE)
        return total

    async def lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew lease `name` for `holder` for `seconds`; False while another holder's lease is live."""

        def op(conn: sqlite3.Connection) -> bool:
            now = utcnow()
            row = conn.execute("SELECT holder, until FROM leases WHERE name = ?", (name,)).fetchone()
            if row is not None and row["holder"] != holder and row["until"] >= _ts(now):
                return False
            conn.execute("INSERT OR REPLACE INTO leases (name, holder, until) VALUES (?,?,?)",
                         (name, holder, _ts(now + timedelta(seconds=seconds))))
            return True

        return await self._call(op)

    async def release(self, name: str, holder: str) -> None:
        """Give lease `name` up if `holder` holds it."""
        await self._call(lambda conn: conn.execute("DELETE FROM leases WHERE name = ? AND holder = ?",
                                                   (name, holder)))

    async def record_links(self, seen: Sequence[LinkSeen]) -> None:
        """Record evidence about channels' links in one write: a new state replaces the stored one with `since`
        now; the same state changes nothing but a probe's `probed_at`."""
        if not seen:
            return

        def op(conn: sqlite3.Connection) -> None:
            now = _ts()
            for item in seen:
                probed = now if item.probed else None
                # one statement: a changed state restarts `since`, the same state keeps it (and its reason)
                conn.execute(
                    "INSERT INTO channel_links (channel, state, since, reason, probed_at) VALUES (?,?,?,?,?)"
                    " ON CONFLICT (channel) DO UPDATE SET"
                    " since = CASE WHEN state = excluded.state THEN since ELSE excluded.since END,"
                    " reason = CASE WHEN state = excluded.state THEN reason ELSE excluded.reason END,"
                    " probed_at = COALESCE(excluded.probed_at, probed_at), state = excluded.state"
                    " WHERE state != excluded.state OR excluded.probed_at IS NOT NULL",
                    (item.channel, item.state, now, item.reason[:500], probed))

        await self._call(op)
