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
from typing import Any

import pytest
from smsgate.store import SQLiteStore

from tests.support.store_workload import TABLES, fill, workload

# (what the store was asked, what its plan must say)
HOT = [
    ("due", r"USING INDEX messages_due "),
    ("claim due", r"USING INDEX messages_due "),
    ("claim routed", r"USING INDEX messages_due "),
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
    ("page channels", r"USING INDEX messages_by_channel "),
    ("logs errors", r"USING INDEX logs_errors_newest$"),
    ("logs channel errors", r"USING INDEX logs_errors "),
    ("outbox due", r"USING INDEX outbox_pending"),
    ("outbox pending", r"USING INDEX outbox_pending"),
]


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
            await fill(store, 600)
        finally:
            await store.close()
        if statistics:
            with real_connect(path) as conn:
                conn.execute("ANALYZE")
        monkeypatch.setattr(sqlite3, "connect", traced)
        store = SQLiteStore(path, synchronous="OFF")
        try:
            await workload(store, marks, statements)
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
