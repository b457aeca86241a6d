"""Upkeep under advisory locks: retention, named leases, channels' links and the shared per-channel rate slot."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .._records import LinkSeen
from ._base import _Base
from ._connection import _lock_key


class _Upkeep(_Base):
    """Upkeep under advisory locks: retention, named leases, and the shared per-channel rate slot."""

    async def prune(self, before: datetime) -> int:
        """Delete channel logs, delivered outbox items and joined fragments older than `before`; rows deleted.

        One instance at a time (an advisory lock): another instance pruning at once returns 0 at once.
        """

        async def op(conn: Any) -> int:
            key = _lock_key(self._schema, "prune")
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                return 0
            total = 0
            try:
                # small chunks, each its own transaction: no long lock on the tables callbacks write to
                for sql in ("DELETE FROM channel_logs WHERE seq IN (SELECT seq FROM channel_logs ORDER BY seq"
                            " LIMIT 2000) AND created_at < $1",
                            "DELETE FROM fragments f USING (SELECT channel, key, idx FROM fragments"
                            " WHERE joined_at < $1 LIMIT 2000) d"
                            " WHERE (f.channel, f.key, f.idx) = (d.channel, d.key, d.idx)",
                            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE done_at IS NOT NULL"
                            " ORDER BY seq LIMIT 2000) AND done_at < $1"):
                    while True:
                        deleted = int((await conn.execute(sql, before)).split()[-1])
                        total += deleted
                        if deleted == 0:
                            break
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", key)
            return total

        return await self._run(op, transaction=False)

    async def prune_messages(self, before: datetime, *, chunk: int = 200) -> int:
        """Delete finished messages created before `before` (not queued or errored), with their status history
        and external ids, and status reports that named no message recorded before `before`; messages deleted.

        As the SQLite store does: oldest first by `seq`, `chunk` messages per statement (each its own short
        transaction), each chunk starting where the previous one stopped. A message a callback holds at that
        moment is stepped over (SKIP LOCKED) rather than waited for; the next run takes it. One instance at a
        time (an advisory lock): another instance pruning at once returns 0 at once.
        """

        async def op(conn: Any) -> int:
            key = _lock_key(self._schema, "prune-messages")
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                return 0
            total, position = 0, 0
            try:
                while True:
                    row = await conn.fetchrow(
                        "WITH batch AS (SELECT seq, id, created_at FROM messages WHERE seq > $1 ORDER BY seq"
                        " LIMIT $3),"
                        " done AS (SELECT m.id, m.channel, m.external_ids FROM messages m JOIN batch b ON b.id = m.id"
                        " WHERE b.created_at < $2 AND m.status NOT IN ('queued', 'errored')"
                        " FOR UPDATE OF m SKIP LOCKED),"
                        " h AS (DELETE FROM status_history WHERE message_id IN (SELECT id FROM done)),"
                        " e AS (DELETE FROM external_ids x USING done d,"
                        " jsonb_array_elements_text(d.external_ids::jsonb) AS j(ext)"
                        " WHERE x.channel = d.channel AND x.external_id = j.ext AND x.message_id = d.id),"
                        " m AS (DELETE FROM messages WHERE id IN (SELECT id FROM done) RETURNING 1)"
                        " SELECT (SELECT max(seq) FROM batch) AS last,"
                        " (SELECT count(*) FROM batch WHERE created_at < $2) AS old,"
                        " (SELECT count(*) FROM m) AS deleted",
                        position, before, chunk)
                    if not row["old"]:  # the end, or messages newer than the cutoff from here on
                        break
                    position = row["last"]
                    total += row["deleted"]
                while int((await conn.execute(
                        "DELETE FROM status_history WHERE seq IN (SELECT seq FROM status_history"
                        " WHERE message_id IS NULL AND at < $1 LIMIT $2)", before, chunk)).split()[-1]):
                    pass
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", key)
            return total

        return await self._run(op, transaction=False)

    async def lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew lease `name` for `holder` for `seconds`; False while another holder's lease is live.

        One statement on the database's clock: two instances asking at once are decided by the row's lock."""

        async def op(conn: Any) -> bool:
            return bool(await conn.fetchval(
                "INSERT INTO leases AS l (name, holder, until) VALUES ($1, $2, now() + make_interval(secs => $3))"
                " ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until"
                " WHERE l.holder = EXCLUDED.holder OR l.until < now() RETURNING TRUE", name, holder, seconds))

        return await self._run(op, transaction=False)

    async def release(self, name: str, holder: str) -> None:
        """Give lease `name` up if `holder` holds it."""
        await self._run(lambda conn: conn.execute("DELETE FROM leases WHERE name = $1 AND holder = $2", name,
                                                  holder), transaction=False)

    async def rate_slot(self, key: str, interval: float) -> float:
        """Reserve the next start of a rate shared by every instance (one row per `key`, the database's clock):
        the seconds to wait before starting, so starts are `interval` apart across all instances together."""

        async def op(conn: Any) -> float:
            wait = await conn.fetchval(
                "INSERT INTO rate_slots AS r (key, next_at) VALUES ($1, clock_timestamp() + make_interval(secs => $2))"
                " ON CONFLICT (key) DO UPDATE SET next_at = GREATEST(r.next_at, clock_timestamp())"
                " + make_interval(secs => $2) RETURNING EXTRACT(EPOCH FROM r.next_at - clock_timestamp()) - $2",
                key, interval)
            return max(0.0, float(wait))

        return await self._run(op, transaction=False)

    async def record_links(self, seen: Sequence[LinkSeen]) -> None:
        """Record evidence about channels' links in one statement: a new state replaces the stored one with
        `since` now (the database's clock); the same state changes nothing but a probe's `probed_at`. Several
        instances reporting at once are ordered by the row's lock, each seeing the state the previous one left."""
        latest: dict[str, LinkSeen] = {}
        for item in seen:  # one row per channel in a statement: the latest evidence, probed if any of it was
            earlier = latest.pop(item.channel, None)
            latest[item.channel] = item if earlier is None or not earlier.probed or item.probed else \
                LinkSeen(item.channel, item.state, item.reason, True)
        seen = list(latest.values())
        if not seen:
            return
        await self._run(lambda conn: conn.execute(
            "INSERT INTO channel_links AS l (channel, state, since, reason, probed_at)"
            " SELECT c, s, now(), r, CASE WHEN p THEN now() END"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[]) AS x(c, s, r, p)"
            " ON CONFLICT (channel) DO UPDATE SET"
            " since = CASE WHEN l.state = EXCLUDED.state THEN l.since ELSE EXCLUDED.since END,"
            " reason = CASE WHEN l.state = EXCLUDED.state THEN l.reason ELSE EXCLUDED.reason END,"
            " probed_at = COALESCE(EXCLUDED.probed_at, l.probed_at), state = EXCLUDED.state"
            " WHERE l.state <> EXCLUDED.state OR EXCLUDED.probed_at IS NOT NULL",
            [s.channel for s in seen], [s.state for s in seen], [s.reason[:500] for s in seen],
            [s.probed for s in seen]), transaction=False)
