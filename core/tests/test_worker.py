"""The send worker: queue → wired, backoff and give-up, ambiguous sends, crash recovery, concurrency, wake-up."""

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from smsgate import OutgoingMessage
from smsgate.host import IN_DOUBT_REASON, READ_TIMEOUT_REASON, open_worker

from tests.support.rawsql import sql
from tests.support.toy_adapter import Toy

IDS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(10)]


@pytest.fixture
def worker_env(smsgate_harness):
    """A factory: a harness with toy channel `t` (one HTTP try per attempt) and a worker on it."""

    def make(respond=None, channel=None, transport=None, **gateway):
        kwargs = {"transport": transport} if transport else {"respond": respond or (
            lambda r: httpx.Response(200, text="ext-1"))}
        h = smsgate_harness({"t": {"adapter": "toy", "country": "RW", "max_retry_wait": 0, "max_attempts": 1,
                                   **(channel or {})}},
                            gateway={"send_retry_base": 10, "send_retry_max": 100, **gateway}, adapters=[Toy],
                            **kwargs)
        return h, open_worker(h.gateway, poll_interval=0.05)

    return make


def queue(h, *ids, text="hello"):
    for message_id in ids:
        h.run(h.gateway.enqueue(OutgoingMessage("t", "+250788383383", text, id=message_id)))


def seconds_until(stamp):
    return (datetime.fromisoformat(stamp) - datetime.now(UTC)).total_seconds()


def test_queued_messages_end_wired_once(worker_env):
    h, worker = worker_env()
    queue(h, *IDS[:3])
    assert h.run(worker.drain()) == 3
    assert h.run(worker.drain()) == 0  # nothing left: a wired message is never attempted again
    assert sorted(r.url.params["text"] for r in h.requests) == ["hello"] * 3
    for message_id in IDS[:3]:
        stored = h.message(message_id)
        assert stored.status == "wired" and stored.attempts == 1 and stored.sending_at is None
        assert [s["status"] for s in stored.history] == ["queued", "wired"]


def test_errored_message_backs_off_then_is_retried(worker_env):
    answers = iter([httpx.Response(500), httpx.Response(503), httpx.Response(200, text="ok-3")])
    h, worker = worker_env(respond=lambda r: next(answers))
    queue(h, IDS[0])
    h.run(worker.run_once())
    first = h.message(IDS[0])
    assert first.status == "errored" and first.error_code == "500"
    assert 10 * 0.8 - 1 <= seconds_until(first.next_attempt_at) <= 10
    assert h.run(worker.run_once()) == 0 and len(h.requests) == 1  # not before its time
    sql(h, "UPDATE messages SET next_attempt_at = ?", "2000-01-01T00:00:00+00:00")  # the wait has passed
    h.run(worker.run_once())
    second = h.message(IDS[0])
    assert second.status == "errored" and 20 * 0.8 - 1 <= seconds_until(second.next_attempt_at) <= 20  # doubled
    sql(h, "UPDATE messages SET next_attempt_at = ?", "2000-01-01T00:00:00+00:00")
    h.run(worker.run_once())
    final = h.message(IDS[0])
    assert final.status == "wired" and final.external_ids == ["ok-3"] and final.attempts == 3
    assert final.next_attempt_at is None and len(h.requests) == 3


def test_retry_after_is_honoured(worker_env):
    h, worker = worker_env(respond=lambda r: httpx.Response(429, headers={"Retry-After": "77"}))
    queue(h, IDS[0])
    h.run(worker.run_once())
    stored = h.message(IDS[0])
    assert stored.status == "errored" and 75 <= seconds_until(stored.next_attempt_at) <= 77


def test_gives_up_after_max_attempts(worker_env):
    h, worker = worker_env(respond=lambda r: httpx.Response(500), send_max_attempts=2, send_retry_base=0.001)
    queue(h, IDS[0])
    for _ in range(3):
        sql(h, "UPDATE messages SET next_attempt_at = NULL")
        h.run(worker.run_once())
    stored = h.message(IDS[0])
    assert stored.status == "failed" and stored.error_code == "500"
    assert stored.error_reason.startswith("gave up after 2 attempt(s); last error: HTTP 500")
    assert len(h.requests) == 2
    assert [s["status"] for s in stored.history] == ["queued", "errored", "errored", "failed"]


def timeout(request):
    raise httpx.ReadTimeout("slow", request=request)


def test_read_timeout_is_failed_not_retried(worker_env):
    h, worker = worker_env(respond=timeout)
    queue(h, IDS[0])
    h.run(worker.drain())
    stored = h.message(IDS[0])
    assert stored.status == "failed" and stored.error_code == "read_timeout"
    assert stored.error_reason == READ_TIMEOUT_REASON and len(h.requests) == 1


def test_read_timeout_is_retried_when_the_channel_allows_it(worker_env):
    h, worker = worker_env(respond=timeout, channel={"retry_on_timeout": True})
    queue(h, IDS[0])
    h.run(worker.run_once())
    stored = h.message(IDS[0])
    assert stored.status == "errored" and stored.next_attempt_at is not None


def crash_mid_send(h, message_id, *, request_left):
    """What a killed gateway leaves: a claim whose lease has lapsed, with or without a request out."""
    h.run(h.store.claim(message_id, lease_seconds=300))
    if request_left:
        h.run(h.store.mark_sending(message_id))
    sql(h, "UPDATE messages SET lease_until = ? WHERE id = ?", "2000-01-01T00:00:00+00:00", message_id)


def test_a_claim_that_lapsed_before_its_request_is_sent_once(worker_env):
    h, worker = worker_env()
    queue(h, IDS[0])
    crash_mid_send(h, IDS[0], request_left=False)
    h.run(worker.drain())
    assert h.message(IDS[0]).status == "wired" and len(h.requests) == 1


def test_a_send_in_doubt_after_a_crash_is_failed_not_repeated(worker_env):
    h, worker = worker_env()
    queue(h, IDS[0])
    crash_mid_send(h, IDS[0], request_left=True)
    h.run(worker.drain())
    stored = h.message(IDS[0])
    assert stored.status == "failed" and stored.error_code == "in_doubt" and stored.error_reason == IN_DOUBT_REASON
    assert h.requests == []


def test_a_send_in_doubt_is_repeated_when_the_channel_allows_it(worker_env):
    h, worker = worker_env(channel={"retry_on_timeout": True})
    queue(h, IDS[0])
    crash_mid_send(h, IDS[0], request_left=True)
    h.run(worker.drain())
    assert h.message(IDS[0]).status == "wired" and len(h.requests) == 1


def test_a_live_claim_is_left_alone(worker_env):
    h, worker = worker_env()
    queue(h, IDS[0])
    h.run(h.store.claim(IDS[0], lease_seconds=300))  # e.g. `smsgate send` is sending it right now
    assert h.run(worker.drain()) == 0 and h.requests == []


def test_the_marker_is_set_before_the_request_and_cleared_with_the_outcome(worker_env):
    seen = []

    async def respond(request):  # read in the gateway's own loop, while the request is at the aggregator
        seen.append((await h.store.get_message(IDS[0])).sending_at)
        return httpx.Response(200, text="ext")

    h, worker = worker_env(respond=respond)
    queue(h, IDS[0])
    h.run(worker.drain())
    assert seen[0] is not None and h.message(IDS[0]).sending_at is None


class SlowAggregator(httpx.AsyncBaseTransport):
    """Answers 200 after a short pause, tracking how many requests overlap."""

    def __init__(self):
        self.active = self.peak = self.count = 0

    async def handle_async_request(self, request):
        self.active += 1
        self.count += 1
        self.peak = max(self.peak, self.active)
        await asyncio.sleep(0.02)  # keeps requests overlapping; the assertion is on the peak, not on time
        self.active -= 1
        return httpx.Response(200, text="ext")


def test_concurrency_is_bounded_per_channel(worker_env):
    slow = SlowAggregator()
    h, worker = worker_env(transport=slow, send_concurrency=2)
    queue(h, *IDS[:7])
    h.run(worker.drain())
    assert slow.count == 7 and slow.peak == 2
    assert {m.status for m in h.messages()} == {"wired"}


def test_running_worker_wakes_on_enqueue_and_stops_cleanly(worker_env):
    h, worker = worker_env()
    worker.poll_interval = 3600  # only the enqueue signal can wake it in time
    fill, rounds = worker.fill, []

    async def counted_fill():
        rounds.append(await fill())
        return rounds[-1]

    worker.fill = counted_fill

    async def go():
        worker.start()
        while not rounds:  # the first round found nothing: from now on the worker sleeps until woken
            await asyncio.sleep(0.001)
        await h.gateway.enqueue(OutgoingMessage("t", "+250788383383", "wake up", id=IDS[0]))
        for _ in range(500):
            stored = await h.store.get_message(IDS[0])
            if stored.status == "wired":
                break
            await asyncio.sleep(0.01)
        await worker.stop()
        return stored

    assert h.run(go()).status == "wired" and len(h.requests) == 1
    assert rounds[0] == 0 and 1 in rounds


# The messages table as the first release created it, before the worker's columns existed.
OLD_MESSAGES = """
CREATE TABLE messages (
    id TEXT PRIMARY KEY, channel TEXT NOT NULL, direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    to_addr TEXT NOT NULL DEFAULT '', from_addr TEXT NOT NULL DEFAULT '', text TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL, external_id TEXT, external_ids TEXT NOT NULL DEFAULT '[]',
    attachments TEXT NOT NULL DEFAULT '[]', metadata TEXT NOT NULL DEFAULT '{}', segments INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, error_code TEXT, error_reason TEXT, lease_until TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
"""


def test_a_database_from_before_the_worker_gains_its_columns(tmp_path):
    import sqlite3

    from smsgate.store import SQLiteStore

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_MESSAGES)
        db.execute("INSERT INTO messages (id, channel, direction, status, created_at, updated_at)"
                   " VALUES ('m1', 't', 'out', 'queued', '2020-01-01', '2020-01-01')")

    async def go():
        store = SQLiteStore(path)
        try:
            due = await store.due("t")
            await store.schedule_retry("m1", datetime(2030, 1, 1, tzinfo=UTC))
            return due, await store.get_message("m1")
        finally:
            await store.close()

    (record,), stored = asyncio.run(go())
    assert record.id == "m1" and record.next_attempt_at is None and record.sending_at is None
    assert stored.next_attempt_at is None  # only an errored message is scheduled; the column works


def test_a_channel_may_keep_more_sends_in_flight_than_the_default(worker_env):
    """An SMPP bind's window (or any channel's own send_concurrency) is filled, not capped at the gateway's."""
    h, worker = worker_env(channel={"send_concurrency": 6}, send_concurrency=2)
    queue(h, *IDS[:8])
    assert h.run(worker.fill()) == 6 and len(worker.inflight["t"]) == 6
    h.run(worker.drain())
    other, default_worker = worker_env(send_concurrency=2)
    queue(other, *IDS[:8])
    assert other.run(default_worker.fill()) == 2
    other.run(default_worker.drain())
