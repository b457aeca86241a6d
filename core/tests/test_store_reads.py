"""The store's reads for operators (console pages, /metrics): keyset pages, per-hour counts, backlog, errors
(on both backends: `open_store`)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
import smsgate.store._postgres._reads as postgres_module
import smsgate.store._sqlite._reads as sqlite_module
from smsgate import ChannelLog, OutgoingMessage, Redactor, SendResult, Status, utcnow
from smsgate.store import OutboxItem

from tests.support.rawsql import store_sql


def run(coro):
    return asyncio.run(coro)


class DB:
    """One database of either backend, opened anew for each use, as the console's process would."""

    def __init__(self, open_store):
        self.open = open_store

    def insert(self, rows):
        """Rows (id, channel, direction, contact, text, status, created_at) written straight into the table."""

        async def go():
            store = self.open()
            try:
                for i, ch, d, c, t, s, at in rows:
                    await store_sql(
                        store, "INSERT INTO messages (id, channel, direction, to_addr, from_addr, text, status,"
                        " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                        i, ch, d, c if d == "out" else "+1000", c if d == "in" else "+1000", t, s, at, at)
            finally:
                await store.close()

        run(go())


@pytest.fixture
def db(open_store):
    run(open_store().close())  # the schema
    return DB(open_store)


def insert(db, rows):
    db.insert(rows)


def all_pages(db, **filters):
    async def go():
        store = db.open()
        pages, cursor = [], None
        try:
            while True:
                page = await store.find_messages(cursor=cursor, limit=3, **filters)
                pages.append([m.id for m in page.messages])
                if page.next_cursor is None:
                    return pages
                cursor = page.next_cursor
        finally:
            await store.close()

    return run(go())


def test_keyset_pages_walk_every_match_once_newest_first_even_with_equal_timestamps(db):
    at = "2026-01-01T10:00:00.000000+00:00"
    rows = [(f"m{i:02d}", "a" if i % 2 else "b", "in" if i % 3 else "out", f"+2507880000{i % 4}",
             f"text {i} {'Rare' if i == 7 else ''}", "received" if i % 3 else ("failed" if i % 5 == 0 else "wired"),
             at if i < 6 else f"2026-01-01T10:00:{i:02d}.000000+00:00") for i in range(20)]
    insert(db, rows)
    newest_first = [r[0] for r in sorted(rows, key=lambda r: (r[6], int(r[0][1:])), reverse=True)]
    pages = all_pages(db)
    assert [m for p in pages for m in p] == newest_first  # the six equal timestamps split across pages too
    assert all(len(p) == 3 for p in pages[:-1])
    for filters, keep in [({"channel": "a"}, lambda r: r[1] == "a"),
                          ({"direction": "out"}, lambda r: r[2] == "out"),
                          ({"status": "failed"}, lambda r: r[5] == "failed"),
                          ({"number": "+25078800001"}, lambda r: r[3] == "+25078800001"),
                          ({"text": "rare"}, lambda r: "Rare" in r[4]),
                          ({"channel": "b", "direction": "in", "number": "+25078800002"},
                           lambda r: (r[1], r[2], r[3]) == ("b", "in", "+25078800002"))]:
        expected = [m for m in newest_first if keep(next(r for r in rows if r[0] == m))]
        assert [m for p in all_pages(db, **filters) for m in p] == expected, filters


def test_number_matches_the_contact_not_the_channel_address(db):
    insert(db, [("in1", "a", "in", "+250788000001", "x", "received", "2026-01-01T10:00:00+00:00"),
                ("out1", "a", "out", "+250788000001", "x", "wired", "2026-01-01T10:00:01+00:00")])
    assert all_pages(db, number="+250788000001") == [["out1", "in1"]]
    assert all_pages(db, number="+1000") == [[]]  # the channel's own address is no contact


def test_text_filter_is_a_literal_substring(db):
    insert(db, [("p", "a", "in", "+1", "50% off_now", "received", "2026-01-01T10:00:00+00:00"),
                ("q", "a", "in", "+1", "500 offxnow", "received", "2026-01-01T10:00:01+00:00")])
    assert all_pages(db, text="0% off_") == [["p"]]


def test_a_filtered_page_examines_a_bounded_window_then_continues_older(db, monkeypatch):
    for module in (sqlite_module, postgres_module):
        monkeypatch.setattr(module, "_SCAN", 4)
    rows = [(f"m{i:02d}", "a", "in", "+1", "needle" if i in (1, 2) else "hay", "received",
             f"2026-01-01T10:00:{i:02d}+00:00") for i in range(12)]
    insert(db, rows)
    pages = all_pages(db, text="needle")
    # windows of 4 rows from the newest: m11..m08 and m07..m04 hold nothing, m03..m00 holds both needles
    assert pages == [[], [], ["m02", "m01"]]


def test_a_cursor_the_store_did_not_make_is_a_value_error(db):
    async def go():
        store = db.open()
        try:
            for bad in ("nonsense", "bm90IGEgY3Vyc29y", "", "MjAyNnwx"):
                with pytest.raises(ValueError, match="invalid cursor"):
                    await store.find_messages(cursor=bad)
        finally:
            await store.close()

    run(go())


def test_reads_see_what_an_awaited_write_stored(db):
    async def go():
        store = db.open()
        try:
            message = OutgoingMessage(channel="a", to="+250788000001", text="fresh")
            await store.add_outgoing(message)
            page = await store.find_messages()
            backlog = await store.backlog()
            return page, backlog
        finally:
            await store.close()

    page, backlog = run(go())
    assert [m.text for m in page.messages] == ["fresh"]
    assert backlog.queued["a"][0] == 1


def test_hourly_counts_backlog_last_errors_and_outbox_for(db):
    now = utcnow()
    hour = lambda delta: (now - timedelta(hours=delta)).isoformat(timespec="microseconds")  # noqa: E731
    insert(db, [("o1", "a", "out", "+1", "x", "queued", hour(30)),  # too old for the chart, still queued
                ("o2", "a", "out", "+1", "x", "errored", hour(2)),
                ("o3", "a", "out", "+1", "x", "delivered", hour(2)),
                ("i1", "b", "in", "+1", "x", "received", hour(1)),
                ("o4", "b", "out", "+1", "x", "wired", hour(1))])

    def ok_log(channel, error=None):
        log = ChannelLog(channel, "send", Redactor(["s3cret-value"]))
        log.trace("GET", "http://agg/?password=s3cret-value", {}, b"", 500 if error else 200)
        if error:
            log.error(error)
        return log

    async def go():
        store = db.open()
        store.set_planner(lambda note: [OutboxItem("webhook:x", note.key, note.type, {"n": 1})])
        try:
            message = OutgoingMessage(channel="b", to="+1", text="y", id="fixed-id")
            await store.add_outgoing(message)  # plans one outbox item keyed by the message id
            await store.record_send("fixed-id", SendResult(Status.WIRED), ok_log("b"))
            await store.add_log(ok_log("a", "first failure"))
            await store.add_log(ok_log("a", "newest failure with s3cret-value"))
            await store.add_log(ok_log("a"))
            return (await store.hourly_counts(now - timedelta(hours=24)),
                    await store.hourly_counts(now - timedelta(hours=24), channel="b"),
                    await store.backlog(), await store.last_errors(["a", "b", "c"]), await store.outbox_for("fixed-id"))
        finally:
            await store.close()

    counts, only_b, backlog, errors, outbox = run(go())
    got = {(c.channel, c.hour, c.direction, c.status): c.count for c in counts}
    h2, h1 = hour(2)[:13], hour(1)[:13]
    assert got[("a", h2, "out", "errored")] == 1 and got[("a", h2, "out", "delivered")] == 1
    assert got[("b", h1, "in", "received")] == 1 and got[("b", h1, "out", "wired")] == 1
    assert all(c.channel == "b" for c in only_b) and sum(c.count for c in only_b) == 3
    assert sum(c.count for c in counts) == 5  # o1 is older than 24 h
    assert backlog.queued == {"a": (2, hour(30))}  # queued and errored; the wired one left the queue
    assert backlog.outbox == 2 and backlog.outbox_oldest is not None  # queued and wired events of fixed-id
    assert set(errors) == {"a"}
    assert errors["a"]["errors"] == ["newest failure with **********"]
    assert [item["type"] for item in outbox] == ["message.status_changed"] * 2
    assert [item["payload"] for item in outbox] == [{"n": 1}, {"n": 1}]
    assert json.dumps(errors).count("s3cret") == 0
