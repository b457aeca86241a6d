"""Outgoing messages and their sends, claimed with FOR UPDATE SKIP LOCKED and leases on the database's clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from ... import _events
from ..._events import PlatformEvent
from ..._events import timestamp as _ts
from ..._http._channellog import ChannelLog
from ..._models import (
    MessageRecord,
    OutgoingMessage,
    SendResult,
    Status,
    StatusUpdate,
    utcnow,
)
from ...errors import LimitReached
from .. import _rules
from .._limits import burst_seconds, day_ends
from .._records import (
    Added,
    Limits,
    StatusChange,
)
from ._base import _Base
from ._rows import _get, _record
from ._statuses import _EARLY_REPORT_SECONDS, _MOVES, _adopt_early_reports, _apply_status, _claim, _store_event


class _Sends(_Base):
    """Outgoing messages and their sends, claimed with FOR UPDATE SKIP LOCKED and leases on the database's clock."""

    async def add_outgoing(self, message: OutgoingMessage, claim_for: float | None = None,
                           limits: Limits | None = None) -> Added:
        """Store a new queued message (a known id: the stored one, not created); claim it if `claim_for`
        seconds are given, in the same transaction. A new message counts against `limits` in that transaction:
        LimitReached, and nothing stored, past them (each limit's row is locked, so instances take turns)."""

        woke: set[str] = set()

        async def op(conn: Any) -> Added:
            now = utcnow()
            # the message, claimed if asked, and its first history row: one statement
            row = await conn.fetchrow(
                "WITH m AS (INSERT INTO messages (id, channel, direction, to_addr, from_addr, text, status,"
                " attachments, metadata, quick_replies, high_priority, created_at, updated_at, attempts, lease_until,"
                " lease_holder, route, tenant) VALUES ($1,$2,'out',$3,$4,$5,'queued',$6,$7,$8,$9,$10,$10,"
                " CASE WHEN $11::float8 IS NULL THEN 0 ELSE 1 END,"
                " CASE WHEN $11::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $11) END,"
                " CASE WHEN $11::float8 IS NULL THEN NULL ELSE $12 END, $13, $14)"
                " ON CONFLICT (id) DO NOTHING RETURNING *),"
                " h AS (INSERT INTO status_history (message_id, channel, status, applied, at)"
                " SELECT id, channel, 'queued', TRUE, created_at FROM m)"
                " SELECT * FROM m",
                message.id, message.channel, message.to, message.from_, message.text,
                json.dumps(message.attachments), json.dumps(message.metadata), json.dumps(message.quick_replies),
                message.high_priority, now, claim_for, self.holder,
                json.dumps(message.route) if message.route else None, message.tenant)
            created = row is not None
            claimed = created and claim_for is not None
            if not created:
                if claim_for is not None:
                    row = await _claim(conn, message.id, claim_for, self.holder)
                    claimed = row is not None
                if row is None:
                    row = await conn.fetchrow("SELECT * FROM messages WHERE id = $1", message.id)
            elif limits is not None:  # raising rolls the transaction back: the message is not stored
                await _take(conn, limits)
            record = _record(row)
            events: tuple[PlatformEvent, ...] = ()
            if created:
                update = StatusUpdate(message.channel, Status.QUEUED, message.id, at=now)
                events = (_events.status_changed(message.channel, update, None, Status.QUEUED, record),)
                await self._plan(conn, events, woke)
                woke.add("queued")
            return Added(record, created, claimed, events)

        # without a planner or limits a new message is one statement: no transaction around it
        added = await self._run(op, transaction=self._planner is not None or limits is not None)
        self._woke(woke)
        return added

    async def claim(self, message_id: str, lease_seconds: float = 300) -> MessageRecord | None:
        """Take a queued or errored message for sending; None if wired, final or leased by another worker."""

        async def op(conn: Any) -> MessageRecord | None:
            row = await _claim(conn, message_id, lease_seconds, self.holder)
            return _record(row) if row else None

        return await self._run(op, transaction=False)  # one statement

    async def claim_due(self, channel: str, *, limit: int = 100, lease_seconds: float = 300,
                        routed: bool = False) -> list[MessageRecord]:
        """Claim up to `limit` due messages of `channel`, oldest first (`routed`: only those a route may move to
        another channel); rows another instance is claiming right now are skipped (SKIP LOCKED), never waited
        for or taken twice."""

        async def op(conn: Any) -> list[MessageRecord]:
            rows = await conn.fetch(
                "WITH due AS (SELECT id FROM messages WHERE channel = $1 AND direction = 'out'"
                " AND status IN ('queued', 'errored') AND (lease_until IS NULL OR lease_until < now())"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= now())"
                + (" AND route IS NOT NULL" if routed else "") +
                " ORDER BY created_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED)"
                " UPDATE messages m SET lease_until = now() + make_interval(secs => $3), lease_holder = $4,"
                " attempts = m.attempts + 1 FROM due WHERE m.id = due.id RETURNING m.*",
                channel, limit, lease_seconds, self.holder)
            return [_record(r) for r in sorted(rows, key=lambda r: (r["created_at"], r["seq"]))]

        return await self._run(op, transaction=False)  # one statement

    async def reroute(self, message_id: str, channel: str, to: str, from_: str, *, error_code: str,
                      error_reason: str, log: ChannelLog | None) -> StatusChange:
        """Move a pending message this store holds to `channel` (the next of its route), keeping the claim."""
        woke: set[str] = set()

        async def op(conn: Any) -> StatusChange:
            now = utcnow()
            # the claim checked and the message moved in one statement, the row locked; the channel left keeps
            # the attempt in the history, under its name and with why it was left
            row = await conn.fetchrow(
                "WITH old AS (SELECT id, channel, status FROM messages WHERE id = $1 AND direction = 'out'"
                " AND status IN ('queued', 'errored') AND lease_holder = $2 AND lease_until IS NOT NULL FOR UPDATE),"
                " m AS (UPDATE messages m SET channel = $3, to_addr = $4, from_addr = $5, status = 'errored',"
                " error_code = $6, error_reason = $7, sending_at = NULL, next_attempt_at = NULL, updated_at = $8"
                " FROM old WHERE m.id = old.id RETURNING m.*),"
                " h AS (INSERT INTO status_history (message_id, channel, status, applied, error_code, error_reason, at)"
                " SELECT id, channel, 'errored', TRUE, $6, $7, $8 FROM old)"
                " SELECT m.*, old.channel AS left_channel, old.status AS previous_status FROM m, old",
                message_id, self.holder, channel, to, from_, error_code, error_reason, now)
            if row is None:  # no longer pending, or no longer this store's claim: nothing moves
                return StatusChange(message_id, None, None, False)
            left, previous = row["left_channel"], Status(row["previous_status"])
            record = _record(row)
            update = StatusUpdate(left, Status.ERRORED, message_id, error_code=error_code, error_reason=error_reason,
                                  at=now)
            events = (_events.status_changed(left, update, previous, Status.ERRORED, record),)
            await self._plan(conn, events, woke, log)
            return StatusChange(message_id, previous, Status.ERRORED, True, record, events)

        change = await self._run(op)
        self._woke(woke)
        return change

    async def due(self, channel: str, *, limit: int = 100) -> list[MessageRecord]:
        """Pending messages of `channel` the worker may attempt now (unclaimed, past their backoff), oldest first."""

        async def op(conn: Any) -> list[MessageRecord]:
            rows = await conn.fetch(
                "SELECT * FROM messages WHERE channel = $1 AND direction = 'out' AND status IN ('queued', 'errored')"
                " AND (lease_until IS NULL OR lease_until < now())"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= now()) ORDER BY created_at, seq LIMIT $2",
                channel, limit)
            return [_record(r) for r in rows]

        return await self._run(op, transaction=False)

    async def renew(self, message_id: str, lease_seconds: float) -> bool:
        """Extend this store's live claim; False when the message is no longer claimed by it."""

        async def op(conn: Any) -> bool:
            result = await conn.execute(
                "UPDATE messages SET lease_until = now() + make_interval(secs => $2) WHERE id = $1"
                " AND lease_holder = $3 AND lease_until IS NOT NULL AND status IN ('queued', 'errored')",
                message_id, lease_seconds, self.holder)
            return bool(result == "UPDATE 1")

        return await self._run(op, transaction=False)

    async def mark_sending(self, message_id: str) -> bool:
        """Record that a request of the current claim is going out (the send is in doubt until its outcome);
        False when this store no longer holds the claim: an instance that stalled past its lease, which another
        instance then took, must not send the message too. (Once marked, a claim taken over later finds the
        mark and treats the message as in doubt.)"""

        async def op(conn: Any) -> bool:
            return bool(await conn.fetchval(
                "UPDATE messages SET sending_at = COALESCE(sending_at, now()) WHERE id = $1 AND lease_holder = $2"
                " AND status IN ('queued', 'errored') RETURNING TRUE", message_id, self.holder))

        return await self._run(op, transaction=False)

    async def clear_in_doubt(self, message_id: str) -> None:
        """Forget that an unclaimed message's last request went out, so it is retried."""
        await self._run(lambda conn: conn.execute(
            "UPDATE messages SET sending_at = NULL WHERE id = $1 AND (lease_until IS NULL OR lease_until < now())",
            message_id), transaction=False)

    async def schedule_retry(self, message_id: str, at: datetime) -> None:
        """Do not attempt an errored message again before `at`."""
        await self._run(lambda conn: conn.execute(
            "UPDATE messages SET next_attempt_at = $2 WHERE id = $1 AND status = 'errored'", message_id, at),
            transaction=False)

    async def record_send(self, message_id: str, result: SendResult, log: ChannelLog | None) -> StatusChange:
        """Store a send's outcome, external ids, events and channel log; release the claim."""
        woke: set[str] = set()

        async def op(conn: Any) -> StatusChange:
            # One UPDATE releases the claim, stores the outcome and applies the status by rank (the row locked),
            # answering with the status before and the row after; one more statement records the history row
            # and the channel log and reads the history back: 4 round trips with BEGIN and COMMIT, not 10.
            now = utcnow()
            status = result.status
            row = await conn.fetchrow(
                "UPDATE messages m SET lease_until = NULL, lease_holder = NULL, sending_at = NULL,"
                " next_attempt_at = NULL, segments = $2, external_id = COALESCE($3, m.external_id),"
                " external_ids = $4, error_code = $5, error_reason = $6,"
                f" status = CASE WHEN {_MOVES} THEN $7 ELSE old.status END,"
                f" updated_at = CASE WHEN {_MOVES} THEN $8 ELSE m.updated_at END"
                " FROM (SELECT id, status FROM messages WHERE id = $1 FOR UPDATE) old WHERE m.id = old.id"
                # the locks of the external ids, in one order (see below), in the same round trip
                " RETURNING (SELECT count(pg_advisory_xact_lock(hashtextextended('ext:' || m.channel || ':' || e, 0)))"
                " FROM unnest($9::text[]) AS e) AS locked, old.status AS previous_status, m.*",
                message_id, result.segments, result.external_ids[0] if result.external_ids else None,
                json.dumps(result.external_ids), result.error_code, result.error_reason, status.value, now,
                sorted(set(result.external_ids)))
            if row is None:
                raise KeyError(message_id)
            channel = row["channel"]
            previous = Status(row["previous_status"])
            applied = row["status"] == status.value and _rules.moves(previous, status)
            orphans: list[Any] = []
            if result.external_ids:
                # Reports that overtook this answer (a fast SMSC's receipt, maybe on another instance) are kept
                # as orphans; one arriving while this commits waits on the locks the UPDATE took, then finds the
                # external id (see _store_event). Taken in one order, so two sends never wait on each other.
                ids = sorted(set(result.external_ids))
                # a statement after the locks: it sees every orphan committed before them
                orphans = await conn.fetch(
                    "WITH e AS (INSERT INTO external_ids (channel, external_id, message_id)"
                    " SELECT $1, e, $3 FROM unnest($2::text[]) AS e"
                    " ON CONFLICT (channel, external_id) DO UPDATE SET message_id = EXCLUDED.message_id)"
                    " SELECT seq, status, external_id, error_code, error_reason, at FROM status_history"
                    " WHERE message_id IS NULL AND channel = $1 AND external_id = ANY($2::text[]) AND at >= $4"
                    " ORDER BY seq", channel, ids, message_id, now - timedelta(seconds=_EARLY_REPORT_SECONDS))
            seen = not applied and previous is not status and status is not Status.ERRORED and await conn.fetchval(
                "SELECT 1 FROM status_history WHERE message_id = $1 AND status = $2 LIMIT 1", message_id,
                status.value) is not None
            recorded = _rules.recorded(previous, status, applied, seen)
            if orphans and recorded:  # the send's own history row comes before the reports it makes apply
                await conn.execute(
                    "INSERT INTO status_history (message_id, channel, status, applied, error_code, error_reason,"
                    " at) VALUES ($1, $2, $3, $4, $5, $6, $7)", message_id, channel, status.value, applied,
                    result.error_code, result.error_reason, now)
                recorded = False
            outcomes = await _adopt_early_reports(conn, channel, orphans)
            outcomes += [await _store_event(conn, channel, event) for event in result.events]
            data = log.as_dict() if log is not None else None
            history = await conn.fetch(
                "WITH h AS (INSERT INTO status_history (message_id, channel, status, applied, error_code,"
                " error_reason, at) SELECT $1::text, $2::text, $3::text, $4::boolean, $5::text, $6::text,"
                " $7::timestamptz WHERE $8::boolean"
                " RETURNING seq, status, applied, channel, external_id, error_code, error_reason, at),"
                " l AS (INSERT INTO channel_logs (id, channel, kind, message_id, is_error, elapsed_ms, created_at,"
                " data) SELECT $9::text, $10::text, $11::text, $12::text, $13::boolean, $14::float8,"
                " $15::timestamptz, $16::text WHERE $16::text IS NOT NULL)"
                " SELECT seq, status, applied, channel, external_id, error_code, error_reason, at FROM status_history"
                " WHERE message_id = $1 UNION ALL SELECT * FROM h ORDER BY seq",
                message_id, channel, status.value, applied, result.error_code, result.error_reason, now, recorded,
                *((log.id, log.channel, log.kind, log.message_id, bool(log.errors), log.elapsed_ms,
                   datetime.fromisoformat(data["created_at"]), json.dumps(data, ensure_ascii=False))
                  if log is not None and data is not None else (None,) * 8))
            sent = _record(row)  # the message as this send left it, for its own event's payload
            record = sent if not orphans else await _get(conn, message_id)  # and as the reports left it
            assert record is not None
            record.history = [{k: (_ts(v) if k == "at" else v) for k, v in r.items() if k != "seq"}
                              for r in history]
            current = status if applied else previous
            events: list[PlatformEvent] = []
            if applied:
                update = StatusUpdate(channel, status, message_id, error_code=result.error_code,
                                      error_reason=result.error_reason)
                events.append(_events.status_changed(channel, update, previous, status, sent))
            for outcome in outcomes:
                events.extend(await self._made_by(conn, channel, outcome))
            await self._plan(conn, events, woke)
            return StatusChange(message_id, previous, current, applied, record, tuple(events))

        change = await self._run(op)
        self._woke(woke)
        return change

    async def fail_message(self, message_id: str, error_code: str, error_reason: str, *,
                           held: bool = False) -> StatusChange:
        """Make a pending message `failed` (the worker gave up): an unclaimed one, or with `held` one this
        store claimed and did not attempt (that claim's count is taken back); unapplied if it is not pending
        (or someone else holds it)."""
        woke: set[str] = set()

        async def op(conn: Any) -> StatusChange:
            channel = await conn.fetchval(
                "UPDATE messages SET lease_until = NULL, lease_holder = NULL, sending_at = NULL,"
                " next_attempt_at = NULL, error_code = $2, error_reason = $3,"
                " attempts = GREATEST(attempts - CASE WHEN $4 THEN 1 ELSE 0 END, 0)"
                " WHERE id = $1 AND direction = 'out'"
                " AND status IN ('queued', 'errored')"
                " AND (lease_until IS NULL OR lease_until < now() OR ($4 AND lease_holder = $5)) RETURNING channel",
                message_id, error_code, error_reason, held, self.holder)
            if channel is None:
                status = await conn.fetchval("SELECT status FROM messages WHERE id = $1", message_id)
                current = Status(status) if status in {s.value for s in Status} else None
                return StatusChange(message_id if status is not None else None, current, current, False)
            change = await _apply_status(conn, message_id, channel, Status.FAILED, None, error_code, error_reason,
                                         utcnow())
            if not change.applied:
                return change
            update = StatusUpdate(channel, Status.FAILED, message_id, error_code=error_code, error_reason=error_reason)
            record = await _get(conn, message_id) if self._planner is not None else None
            events = (_events.status_changed(channel, update, change.previous, Status.FAILED, record),)
            await self._plan(conn, events, woke)
            return StatusChange(change.message_id, change.previous, change.current, True, None, events)

        change = await self._run(op)
        self._woke(woke)
        return change


async def _take(conn: Any, limits: Limits) -> None:
    """Count one new message against a tenant's limits, each in one statement on its row (locked by the upsert,
    so instances take turns) and on the database's clock; LimitReached past either."""
    if limits.tps is not None:
        key, interval, burst = f"tps:{limits.tenant}", 1.0 / limits.tps, burst_seconds(limits)
        taken = await conn.fetchval(
            "INSERT INTO tenant_limits (key, tat) VALUES ($1, now() + make_interval(secs => $2))"
            " ON CONFLICT (key) DO UPDATE SET tat = GREATEST(tenant_limits.tat, now()) + make_interval(secs => $2)"
            " WHERE tenant_limits.tat IS NULL OR tenant_limits.tat <= now() + make_interval(secs => $3)"
            " RETURNING TRUE", key, interval, burst)
        if not taken:
            ahead = await conn.fetchval("SELECT extract(epoch FROM tat - now())::float8 FROM tenant_limits"
                                        " WHERE key = $1", key)
            wait = max(float(ahead or 0.0) - burst, 0.001)
            raise LimitReached(f"tenant {limits.tenant!r} may queue {limits.tps:g} message(s) per second: "
                               f"retry in {wait:.2f} s", wait)
    if limits.daily is not None:
        key = f"day:{limits.tenant}"
        row = await conn.fetchrow(
            "INSERT INTO tenant_limits (key, day, used) VALUES ($1, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 1)"
            " ON CONFLICT (key) DO UPDATE SET day = EXCLUDED.day,"
            " used = CASE WHEN tenant_limits.day = EXCLUDED.day THEN tenant_limits.used + 1 ELSE 1 END"
            " WHERE tenant_limits.day IS DISTINCT FROM EXCLUDED.day OR tenant_limits.used < $2"
            " RETURNING used", key, limits.daily)
        if row is None:
            day, clock = await conn.fetchrow("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), now()")
            raise day_ends(limits, day, clock)
