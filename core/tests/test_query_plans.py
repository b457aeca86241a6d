"""Every query the SQLite store runs is answered from an index that fits it, so its cost stays flat as the tables
grow (the worker's per-second `due()`, listings, `logs --errors`, the outbox, every lookup of a callback).

The store runs a workload through its public methods with every statement traced (the real SQL, bound values
expanded); each statement's plan (EXPLAIN QUERY PLAN) must not sort rows with a temporary b-tree, and may scan a
table or walk an index only from one end to take the first rows of a LIMIT (upkeep's chunks, listings), or
walk a partial index of what is pending (the backlog). The named hot queries must use their own index, which a
scan stopped by a LIMIT is not. Checked twice: on fresh
tables (no statistics) and after ANALYZE of skewed data (mostly finished messages, few pending, few errors),
because SQLite plans differently once it has statistics.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from smsgate import ChannelLog, IncomingMessage, OutgoingMessage, Redactor, SendResult, Status, StatusUpdate
from smsgate.host import utcnow
from smsgate.store import OutboxItem, SQLiteStore

PHONE = "+250788383383"
TABLES = ("messages", "status_history", "channel_logs", "outbox", "external_ids", "opt_outs", "fragments")

# (what the store was asked, what its plan must say)
HOT = [
    ("due", r"USING INDEX messages_due "),
    ("claim due", r"USING INDEX messages_due "),
    ("list", r"USING INDEX messages_by_created"),
    ("list channel", r"USING INDEX messages_by_channel "),
    ("list direction", r"USING INDEX messages_by_direction "),
    ("list status", r"USING INDEX messages_by_status "),
    ("list channel direction", r"USING INDEX messages_by_(channel|direction) "),
    ("list channel status", r"USING INDEX messages_by_(channel|status) "),
    ("page 2", r"USING INDEX messages_by_created \(created_at<\?\)"),
    ("page status", r"USING INDEX messages_by_status \(status=\? AND created_at<\?\)"),
    ("page direction", r"USING INDEX messages_by_direction \(direction=\?"),
    ("page contact", r"USING INDEX messages_by_contact "),
    ("logs errors", r"USING INDEX logs_errors_newest$"),
    ("logs channel errors", r"USING INDEX logs_errors "),
    ("outbox due", r"USING INDEX outbox_pending"),
    ("outbox pending", r"USING INDEX outbox_pending"),
]


def _log(channel: str, kind: str, message_id: str | None = None, error: bool = False) -> ChannelLog:
    log = ChannelLog(channel=channel, kind=kind, redactor=Redactor(), message_id=message_id)
    if error:
        log.error("boom")
    return log


async def _fill(store: SQLiteStore, n: int) -> None:
    """Skewed data, as a gateway that ran a while has: mostly finished messages, a few pending, few errors."""
    for i in range(n):
        channel = "a" if i % 4 else "b"
        if i % 2:
            incoming = IncomingMessage(channel, PHONE, "hi", external_id=f"mo{i}")
            await store.record_inbound(channel, [incoming], _log(channel, "receive"))
            continue
        message_id = (await store.add_outgoing(OutgoingMessage(channel, PHONE, f"m{i}"), claim_for=60)).record.id
        failed = i % 50 == 0
        await store.record_send(message_id, SendResult(Status.FAILED if failed else Status.WIRED,
                                                       [] if failed else [f"x{i}"]),
                                _log(channel, "send", message_id, error=failed))
        if not failed:
            await store.record_inbound(channel, [StatusUpdate(channel, Status.DELIVERED, None, f"x{i}")], None)
    for i in range(5):
        await store.add_outgoing(OutgoingMessage("a", PHONE, f"pending {i}"))


async def _workload(store: SQLiteStore, marks: list[tuple[str, int]], statements: list[str]) -> None:
    """Every read and write of the store once, each hot one marked with its name and the statements' position."""

    def mark(name: str) -> None:
        marks.append((name, len(statements)))

    store.set_planner(lambda event: [OutboxItem("webhook:x", event.key, event.type, {"k": event.key})])
    mark("due")
    (due, *_) = await store.due("a", limit=10)
    mark("claim due")
    (taken, *_) = await store.claim_due("a", limit=1, lease_seconds=0.001)  # the worker's round
    mark("other")
    await asyncio.sleep(0.01)
    claimed = await store.claim(due.id, 60)
    assert claimed is not None and taken.id == due.id
    assert await store.mark_sending(due.id)
    await store.renew(due.id, 60)
    await store.record_send(due.id, SendResult(Status.ERRORED, error_code="x", error_reason="down"), None)
    await store.schedule_retry(due.id, utcnow() + timedelta(seconds=5))
    await store.fail_message(due.id, "gave_up", "no")
    added = await store.add_outgoing(OutgoingMessage("a", PHONE, "again"), claim_for=60)
    await store.record_send(added.record.id, SendResult(Status.WIRED, ["late-1"]), _log("a", "send"))
    await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, added.record.id),
                                     StatusUpdate("a", Status.SENT, None, "late-1"),
                                     StatusUpdate("a", Status.DELIVERED, None, "nobody"),
                                     IncomingMessage("a", PHONE, "dup", external_id="mo1")], _log("a", "status"))
    await store.known_inbound("a", ["mo1", "mo3"])
    await store.get_message(added.record.id)
    for name, filters in [("list", {}), ("list channel", {"channel": "a"}), ("list direction", {"direction": "in"}),
                          ("list status", {"status": "failed"}),
                          ("list channel direction", {"channel": "b", "direction": "out"}),
                          ("list channel status", {"channel": "b", "status": "delivered"})]:
        mark(name)
        page = await store.list_messages(limit=20, **filters)
    mark("page 2")
    page = await store.find_messages(limit=20)
    await store.find_messages(limit=20, cursor=page.next_cursor)
    mark("page status")
    page = await store.find_messages(limit=5, status="delivered")
    await store.find_messages(limit=5, status="delivered", cursor=page.next_cursor)
    mark("page direction")
    await store.find_messages(limit=5, direction="out")
    mark("page contact")
    await store.find_messages(limit=5, number=PHONE, text="hi")
    mark("other")
    await store.find_messages(limit=5, channel="a", status="failed", text="m1")
    await store.hourly_counts(utcnow() - timedelta(hours=2), channel="a")
    await store.backlog()
    await store.last_errors(["a", "b"])
    await store.outbox_for(added.record.id)
    mark("logs errors")
    await store.list_logs(errors_only=True)
    mark("logs channel errors")
    await store.list_logs(channel="b", errors_only=True)
    mark("other")
    await store.list_logs(message_id=added.record.id)
    await store.list_logs(channel="a")
    mark("outbox due")
    rows = await store.outbox_due(limit=5)
    mark("other")
    await store.outbox_renew([rows[0].id, rows[1].id], 60)
    await store.outbox_done(rows[0].id)
    await store.outbox_retry(rows[1].id, utcnow(), "HTTP 500")
    mark("outbox pending")
    await store.outbox_items(pending=True)
    mark("other")
    await store.opt_outs(channel="a")
    await store.opt_outs()
    await store.lease("a:bind", "me", 30)
    await store.release("a:bind", "me")
    await store.prune(utcnow() - timedelta(days=1))
    await store.prune_messages(utcnow() - timedelta(days=1))


def _plans(path: str, statements: list[str]) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        out = []
        for sql in statements:
            if not re.match(r"\s*(SELECT|UPDATE|DELETE|INSERT)", sql, re.I) or "sqlite_" in sql:
                continue
            plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
            out.append((sql, plan))
        return out
    finally:
        conn.close()


# Queries whose cost is not the table's size, by design: every opt-out (the operator's compliance record, and
# rare); the per-hour counts of the hours asked for (they group the rows of those hours, found by an index).
BY_DESIGN = ("SELECT channel, address, reason, at FROM opt_outs ORDER BY seq",
             "SELECT channel, substr(created_at, 1, 13) AS hour")
# Partial indexes of what is pending: walking one whole costs the backlog, never the history.
PENDING = ("messages_due", "outbox_pending")


def _problems(sql: str, plan: str) -> list[str]:
    if sql.startswith(BY_DESIGN):
        return []
    found = []
    for step in plan.split(" | "):
        scan = re.match(r"SCAN (\w+)(?: AS \w+)?(?: USING (?:COVERING )?INDEX (\w+))?", step)
        # a scan (of the table, or along an index) is fine only while a LIMIT stops it early
        if scan and scan.group(1) in TABLES and "LIMIT" not in sql.upper() and scan.group(2) not in PENDING:
            found.append(f"scans {scan.group(1)}")
        if "USE TEMP B-TREE" in step:
            found.append(f"sorts: {step}")
    return found


@pytest.mark.parametrize("statistics", [False, True], ids=["no statistics", "after ANALYZE"])
def test_every_query_uses_an_index_that_fits(tmp_path, monkeypatch, statistics):
    path = str(tmp_path / "plans.sqlite3")
    statements: list[str] = []
    marks: list[tuple[str, int]] = []
    real_connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = real_connect(*args, **kwargs)
        conn.set_trace_callback(statements.append)
        return conn

    async def go() -> None:
        monkeypatch.setattr(sqlite3, "connect", real_connect)
        store = SQLiteStore(path, synchronous="OFF")
        try:
            await _fill(store, 600)
        finally:
            await store.close()
        if statistics:
            with real_connect(path) as conn:
                conn.execute("ANALYZE")
        monkeypatch.setattr(sqlite3, "connect", traced)
        store = SQLiteStore(path, synchronous="OFF")
        try:
            await _workload(store, marks, statements)
        finally:
            await store.close()

    asyncio.run(go())
    monkeypatch.setattr(sqlite3, "connect", real_connect)
    planned = _plans(path, statements)
    assert len(planned) > 40  # the workload really ran through the traced connections
    problems = [f"{sql}\n    plan: {plan}\n    " + "; ".join(_problems(sql, plan))
                for sql, plan in planned if _problems(sql, plan)]
    assert not problems, "\n".join(problems)

    bounds = [*marks[1:], ("end", len(statements))]
    for (name, start), (_, stop) in zip(marks, bounds, strict=True):
        if name == "other":
            continue
        expected = dict(HOT)[name]
        hot = [plan for sql, plan in _plans(path, statements[start:stop])
               if sql.lstrip().upper().startswith("SELECT") and ("messages" in sql or "channel_logs" in sql
                                                                or "outbox" in sql)]
        assert hot and any(re.search(expected, plan) for plan in hot), (name, hot)
