"""The SQLite writer's group commit: a batch of new inbound messages runs without a savepoint each, and a job
that fails in it still fails alone (the batch is rolled back and run again, each job in its own savepoint); the
new messages of one loop tick are one job with a multi-row INSERT per table, answered as each alone would be."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from smsgate import IncomingMessage
from smsgate._http._channellog import ChannelLog, Redactor
from smsgate.errors import StoreUnavailable
from smsgate.store import SQLiteStore, open_store
from smsgate.store._sqlite._connection import _use_wal


async def _batch_with_a_failing_job(store: SQLiteStore) -> tuple[list[IncomingMessage], IncomingMessage, list]:
    gate = threading.Event()
    # the writer holds this job until every inbound job is queued behind it, so they make one batch
    held = asyncio.create_task(asyncio.to_thread(store.call_sync, lambda conn: gate.wait(10)))
    await asyncio.sleep(0.05)
    good = [IncomingMessage("c", "+250788123123", f"good {i}") for i in range(4)]
    bad = IncomingMessage("c", "+250788123123", "bad")
    broken = ChannelLog(channel="c", kind="receive", redactor=Redactor())
    broken.elapsed_ms = "not a number"  # type: ignore[assignment]  # its log fails after the message's INSERT
    calls = [store.record_inbound("c", [m], None) for m in good[:2]]
    calls.append(store.record_inbound("c", [bad], broken))
    calls += [store.record_inbound("c", [m], None) for m in good[2:]]
    tasks = [asyncio.create_task(c) for c in calls]
    await asyncio.sleep(0.05)
    gate.set()
    await held
    return good, bad, await asyncio.gather(*tasks, return_exceptions=True)


def test_a_failing_inbound_job_fails_alone_and_leaves_nothing_behind(tmp_path):
    async def main() -> None:
        store = SQLiteStore(tmp_path / "s.sqlite3")
        try:
            good, bad, results = await _batch_with_a_failing_job(store)
            assert isinstance(results[2], TypeError)
            for outcome in results[:2] + results[3:]:
                assert not isinstance(outcome, BaseException)
                assert outcome[0].created
            for message in good:
                stored = await store.get_message(message.id)
                assert stored is not None and stored.text == message.text
            assert await store.get_message(bad.id) is None  # its INSERT was rolled back with its savepoint
        finally:
            await store.close()

    asyncio.run(main())


def test_a_batch_of_new_messages_stores_each_once(tmp_path):
    async def main() -> None:
        store = SQLiteStore(tmp_path / "s.sqlite3")
        try:
            for _ in range(2):
                messages = [IncomingMessage("c", "+250788123123", f"m {i}", external_id=f"x{i}") for i in range(50)]
                outcomes = await asyncio.gather(*(store.record_inbound("c", [m], None) for m in messages))
                assert all(len(o) == 1 for o in outcomes)
            # the second run's messages repeat the first's external ids: duplicates, answered with the first ids
            assert [o[0].created for o in outcomes] == [False] * 50
            rows = store.call_sync(lambda conn: conn.execute(
                "SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0])
            assert rows == 50
        finally:
            await store.close()

    asyncio.run(main())


def test_the_same_message_twice_in_one_batch_is_stored_once_and_answered_with_one_id(tmp_path):
    async def main() -> None:
        store = SQLiteStore(tmp_path / "s.sqlite3")
        try:
            first, again = (IncomingMessage("c", "+250788123123", "twice", external_id="dup-1") for _ in range(2))
            other = IncomingMessage("c", "+250788123123", "once", external_id="dup-2")
            outcomes = await asyncio.gather(*(store.record_inbound("c", [m], None) for m in (first, other, again)))
            assert [o[0].created for o in outcomes] == [True, True, False]
            assert outcomes[2][0].event.id == first.id  # the retried delivery is answered with the stored id
            rows = store.call_sync(lambda conn: conn.execute(
                "SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0])
            assert rows == 2
        finally:
            await store.close()

    asyncio.run(main())



class _Switching:
    """A connection whose switch to WAL is refused `busy` times with "database is locked", as SQLite refuses a
    second process opening the same new file while the first switches it (no busy handler is called there)."""

    def __init__(self, busy: int, error: str = "database is locked") -> None:
        self.busy, self.error, self.tries = busy, error, 0

    def execute(self, sql: str) -> None:
        assert sql == "PRAGMA journal_mode=WAL"
        self.tries += 1
        if self.tries <= self.busy:
            raise sqlite3.OperationalError(self.error)


def test_the_switch_to_wal_waits_while_another_process_opens_the_new_file():
    # serve --split's two processes open one new file together: the loser of the switch must wait, not fail
    conn = _Switching(busy=3)
    _use_wal(conn)  # type: ignore[arg-type]
    assert conn.tries == 4
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _use_wal(_Switching(busy=10**6), wait=0.05)  # type: ignore[arg-type]
    other = _Switching(busy=1, error="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk"):
        _use_wal(other)  # type: ignore[arg-type]
    assert other.tries == 1  # only a lock is waited for


def test_a_database_locked_past_the_wait_is_unavailable_not_foreign(tmp_path, monkeypatch):
    import smsgate.store._sqlite._connection as connection

    def locked(conn, wait=10.0):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(connection, "_use_wal", locked)
    with pytest.raises(StoreUnavailable, match="is locked by another process"):
        open_store(str(tmp_path / "g.sqlite3"))
