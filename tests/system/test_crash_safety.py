"""Crash safety and aggregator faults.

1. `smsgate serve` as a real subprocess, SIGKILLed while threads fire inbound messages at it and while its worker
   sends queued messages; restarted on the same database: every message answered 2xx is stored exactly once (by
   count and by id), no message is sent twice, queued messages resume and are sent once, the server answers again.
2. Aggregator faults through the real send pipeline (http adapter, real sockets where it matters): connection
   refused, timeouts before and after the request is sent, disconnects and resets after it, 429 with Retry-After
   in seconds and as an HTTP date, 500s, slow answers. Each ends with the documented outcome (README: retried or
   not, `errored` then `failed` by the worker) and the aggregator never gets a request twice when it may already
   have the message, unless `retry_on_timeout` allows it.
3. Out-of-order, duplicate and concurrent delivery reports (http, twilio, kannel) never move a status backwards and
   never apply, record, notify or webhook the same transition twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import socket
import sqlite3
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smsgate import Status, hookimpl
from smsgate.host import READ_TIMEOUT_REASON, AiohttpTransport, open_worker
from smsgate.plugins import get_adapters

from tests.support.aggregator import StubAggregator
from tests.support.peers import free_port
from tests.support.served import Served

FROM = "+12025550123"


# -- smsgate serve in a subprocess ---------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    """A factory writing a config (http channel `ex`, SQLite in tmp_path) and returning a stopped `Served`."""
    made: list[Served] = []

    def make(send_url: str = "http://127.0.0.1:9/unused", gateway: str = "", channel: str = "") -> Served:
        port = free_port()
        config = tmp_path / "smsgate.toml"
        config.write_text(
            f'[gateway]\nhost = "127.0.0.1"\nport = {port}\ndatabase = "{tmp_path / "gateway.sqlite3"}"\n'
            f'public_url = "http://127.0.0.1:{port}"\n{gateway}\n'
            f'[channels.ex]\nadapter = "http"\ncountry = "US"\nsend_url = "{send_url}"\n{channel}\n')
        server = Served(config, port, tmp_path / "serve.log")
        made.append(server)
        return server

    yield make
    for server in made:
        server.kill()


def _rows(database: Path, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)) as conn:
        return conn.execute(query, args).fetchall()


class Load:
    """Threads posting inbound messages with distinct texts until the server stops answering."""

    def __init__(self, url: str, cycle: int, threads: int = 8) -> None:
        self.url, self.cycle = url, cycle
        self.accepted: dict[str, str] = {}  # text -> the message id the 2xx answer gave
        self.refused: dict[str, int] = {}  # text -> a non-2xx status
        self.unanswered: set[str] = set()  # in flight when the server died
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)

    def _run(self, n: int) -> None:
        with httpx.Client(timeout=10) as client:
            for i in range(100_000):
                text = f"crash-{self.cycle}-{n}-{i}"
                try:
                    response = client.post(f"{self.url}/c/ex/receive", data={"from": FROM, "text": text})
                except httpx.HTTPError:
                    with self.lock:
                        self.unanswered.add(text)
                    return
                with self.lock:
                    if response.status_code == 200:
                        self.accepted[text] = response.json()["data"][0]["id"]
                    else:
                        self.refused[text] = response.status_code


def test_inbound_survives_sigkill_mid_load(served, tmp_path):
    server = served()
    database = tmp_path / "gateway.sqlite3"
    loads = []
    for cycle in range(2):  # two crashes in a row: recovery must leave a database that survives the next one
        server.start()
        load = Load(server.url, cycle)
        load.start()
        deadline = time.monotonic() + 20
        while len(load.accepted) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # mid-load: eight requests are in flight
        load.join()
        assert len(load.accepted) >= 150, (len(load.accepted), load.refused)
        loads.append(load)
    server.start()
    after = httpx.post(f"{server.url}/c/ex/receive", data={"from": FROM, "text": "after the crashes"}, timeout=10)
    assert after.status_code == 200  # the server answers again, on the recovered database

    stored = Counter(text for (text,) in _rows(database, "SELECT text FROM messages WHERE direction = 'in'"))
    ids = dict(_rows(database, "SELECT text, id FROM messages WHERE direction = 'in'"))
    accepted = {t: i for load in loads for t, i in load.accepted.items()}
    unanswered = {t for load in loads for t in load.unanswered}
    refused = {t for load in loads for t in load.refused}
    assert [t for t in accepted if stored[t] != 1] == []  # every 2xx stored exactly once...
    assert [t for t, i in accepted.items() if ids[t] != i] == []  # ...under the id the 2xx announced
    assert [t for t in refused if stored[t]] == []  # a refusal stored nothing
    assert [t for t in unanswered if stored[t] > 1] == []  # in flight at the kill: stored at most once
    sent = set(accepted) | unanswered | refused | {"after the crashes"}
    assert set(stored) <= sent and stored["after the crashes"] == 1
    assert unanswered, "the kill was meant to catch requests in flight"
    assert _rows(database, "PRAGMA integrity_check") == [("ok",)]


def test_queued_messages_resume_after_sigkill_and_are_sent_once(served, tmp_path):
    aggregator = StubAggregator(delay=0.1, held=True)  # sends wait until the test opens the gate
    try:
        token = "crash-test-api-token"
        server = served(send_url=f"{aggregator.url}/send/ex",
                        gateway=f'api_token = "{token}"\nsend_lease = 1.0\nsend_concurrency = 4\n'
                                "send_retry_base = 0.2\n",
                        channel='content_type = "json"\n')  # the default JSON body carries {{id}}
        database = tmp_path / "gateway.sqlite3"
        server.start()
        ids = [str(uuid.uuid4()) for _ in range(120)]
        headers = {"Authorization": f"Bearer {token}"}

        def queue(chunk: list[str]) -> list[int]:
            with httpx.Client(timeout=10, headers=headers) as client:
                return [client.post(f"{server.url}/api/v1/messages", json={
                    "channel": "ex", "to": FROM, "text": f"out {i}", "id": i}).status_code for i in chunk]

        chunks = [ids[n::4] for n in range(4)]
        results: list[list[int]] = [[] for _ in chunks]
        threads = [threading.Thread(target=lambda k=k: results.__setitem__(k, queue(chunks[k]))) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert [s for r in results for s in r] == [202] * len(ids)  # all durably queued
        aggregator.gate.set()  # the first sends were held until now: the rest of the queue goes out at 40/s
        deadline = time.monotonic() + 20
        while aggregator.total() < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # mid-send: four requests are out, most of the queue is not sent yet
        at_kill = aggregator.total()
        assert 0 < at_kill < len(ids), at_kill
        server.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            open_ = _rows(database, "SELECT count(*) FROM messages WHERE direction = 'out'"
                                    " AND status NOT IN ('wired', 'failed')")[0][0]
            if open_ == 0:
                break
            time.sleep(0.2)
        server.stop()
        stored = {i: (s, c) for i, s, c in _rows(database, "SELECT id, status, error_code FROM messages"
                                                           " WHERE direction = 'out'")}
        assert set(stored) == set(ids)
        assert [i for i, n in aggregator.sends.items() if n > 1] == []  # no message reached the aggregator twice
        wired = [i for i, (s, _) in stored.items() if s == "wired"]
        failed = {i: c for i, (s, c) in stored.items() if s == "failed"}
        assert [i for i in wired if aggregator.sends[i] != 1] == []  # each wired message sent exactly once
        assert set(failed.values()) <= {"in_doubt"}, failed  # only sends the crash left in doubt are not repeated
        assert len(failed) <= 4  # at most the sends in flight at the kill (send_concurrency)
        assert len(wired) + len(failed) == len(ids)
    finally:
        aggregator.close()


# -- aggregator faults --------------------------------------------------------------------------------------------


class RawAggregator:
    """A socket server reading whole requests, then answering as `mode` says: ok, slow, close, reset, hang."""

    def __init__(self, mode: str, delay: float = 0.0) -> None:
        self.mode, self.delay = mode, delay
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/send"
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            if self.mode == "answer-then-close":  # keep-alive: answer the first request, drop the second unanswered
                if self._read(conn) is not None:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    self._read(conn)
                return
            if self._read(conn) is None:
                return
            if self.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if self.mode == "close":
                return
            if self.mode == "hang":
                self.stop.wait(10)
                return
            time.sleep(self.delay)
            with contextlib.suppress(OSError):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def _read(self, conn: socket.socket) -> bytes | None:
        """Read one whole request and record it; None if the peer closed or failed first."""
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return None
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                body += conn.recv(65536)
        except OSError:
            return None
        self.requests.append(data)  # the whole request reached the aggregator
        return data

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def raw_aggregator() -> Iterator[Any]:
    made: list[RawAggregator] = []

    def make(mode: str, delay: float = 0.0) -> RawAggregator:
        made.append(RawAggregator(mode, delay))
        return made[-1]

    yield make
    for aggregator in made:
        aggregator.close()


def _channel(send_url: str, **settings: Any) -> dict[str, Any]:
    return {"ex": {"adapter": "http", "country": "US", "send_url": send_url, "max_attempts": 3,
                   "max_retry_wait": 0, "timeout": 2, **settings}}


@pytest.fixture(params=["aiohttp", "httpcore"])
def backend(request: Any) -> str:
    """Fault tests run over both HTTP backends (`gateway.http_backend`): each must map faults the same way."""
    return str(request.param)


def _real(smsgate_harness, backend: str, send_url: str, gateway: dict[str, Any] | None = None,
          **settings: Any) -> Any:
    transport = AiohttpTransport() if backend == "aiohttp" else httpx.AsyncHTTPTransport()
    return smsgate_harness(_channel(send_url, **settings), transport=transport,
                           gateway={"send_retry_base": 0.01, "send_retry_max": 0.01, **(gateway or {})})


def _worker_until_final(harness: Any, message_id: str, *, max_attempts: int = 3, rounds: int = 50) -> Any:
    """Run the send worker (backoff skipped) until the message is wired or failed."""
    worker = open_worker(harness.gateway, max_attempts=max_attempts, retry_base=0.01, retry_max=0.01)
    for _ in range(rounds):
        stored = harness.message(message_id)
        if stored.status in ("wired", "failed"):
            return stored
        harness.store.call_sync(lambda conn: conn.execute("UPDATE messages SET next_attempt_at = NULL"))
        harness.run(worker.run_once())
    return harness.message(message_id)


def test_connection_refused_is_retried_then_failed_by_the_worker(smsgate_harness, backend):
    port = free_port()  # nothing listens there
    harness = _real(smsgate_harness, backend, f"http://127.0.0.1:{port}/send")
    outcome = harness.send("ex", FROM, "refused")
    assert outcome.message.status == "errored" and outcome.message.error_code == "connection_failed"
    # one plain line, the same over both backends (no aiohttp `ssl:default [Connect call failed ...]`)
    assert outcome.message.error_reason == f"cannot connect to 127.0.0.1:{port} (connection refused)"
    traces = harness.logs(message_id=outcome.message.id)[0]["traces"]
    assert len(traces) == 3 and {t["error"] for t in traces} == {outcome.message.error_reason}  # the 3 tries
    final = _worker_until_final(harness, outcome.message.id, max_attempts=2)
    assert final.status == "failed" and final.error_reason.startswith("gave up after 2 attempt(s)")


@pytest.mark.parametrize("error", [httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ConnectError])
def test_timeouts_before_the_request_is_sent_are_retried(smsgate_harness, error):
    tries = []

    def respond(request: httpx.Request) -> httpx.Response:
        tries.append(request)
        if len(tries) < 3:
            raise error("before sending", request=request)
        return httpx.Response(200, text="ok")

    harness = smsgate_harness(_channel("https://aggregator.example/send"), respond=respond)
    outcome = harness.send("ex", FROM, "retried")
    assert outcome.message.status == "wired" and len(tries) == 3  # safe to retry: nothing reached the aggregator


def _queue(harness: Any, text: str) -> str:
    from smsgate import OutgoingMessage

    record, _ = harness.run(harness.gateway.enqueue(OutgoingMessage("ex", FROM, text)))
    return str(record.id)


def test_read_timeout_after_the_request_is_sent_is_not_repeated(smsgate_harness, backend, raw_aggregator):
    aggregator = raw_aggregator("hang")
    harness = _real(smsgate_harness, backend, aggregator.url, timeout=0.3)
    final = _worker_until_final(harness, _queue(harness, "slow aggregator"))
    assert final.status == "failed" and final.error_code == "read_timeout"
    assert final.error_reason == READ_TIMEOUT_REASON
    assert len(aggregator.requests) == 1  # the aggregator may have the message: never sent again


def test_read_timeout_of_a_direct_send_is_not_repeated_by_the_worker(smsgate_harness, backend, raw_aggregator):
    aggregator = raw_aggregator("hang")
    harness = _real(smsgate_harness, backend, aggregator.url, timeout=0.3)
    outcome = harness.send("ex", FROM, "slow aggregator")  # what `smsgate send` does
    assert outcome.message.status == "failed" and outcome.message.error_code == "read_timeout"
    assert outcome.message.error_reason == READ_TIMEOUT_REASON
    assert len(aggregator.requests) == 1
    final = _worker_until_final(harness, outcome.message.id)  # then `smsgate serve` starts on the same database
    assert final.status == "failed" and final.error_code == "read_timeout"
    assert len(aggregator.requests) == 1


def test_read_timeout_is_repeated_when_the_channel_allows_it(smsgate_harness, backend, raw_aggregator):
    aggregator = raw_aggregator("hang")
    harness = _real(smsgate_harness, backend, aggregator.url, timeout=0.3, retry_on_timeout=True)
    outcome = harness.send("ex", FROM, "slow aggregator")
    assert outcome.message.status == "errored" and len(aggregator.requests) == 3  # documented: may duplicate


def test_disconnect_after_the_request_is_sent_is_not_repeated(smsgate_harness, backend, raw_aggregator):
    aggregator = raw_aggregator("close")
    harness = _real(smsgate_harness, backend, aggregator.url)
    outcome = harness.send("ex", FROM, "no answer")
    assert outcome.message.status == "failed" and outcome.message.error_reason == READ_TIMEOUT_REASON
    assert "after the request was sent" in harness.logs(message_id=outcome.message.id)[0]["errors"][0]
    assert len(aggregator.requests) == 1
    other = raw_aggregator("close")
    harness = _real(smsgate_harness, backend, other.url)
    final = _worker_until_final(harness, _queue(harness, "no answer, via the worker"))
    assert final.status == "failed" and final.error_reason == READ_TIMEOUT_REASON
    assert len(other.requests) == 1


def test_disconnect_after_a_get_send_is_not_repeated(smsgate_harness, backend, raw_aggregator):
    """Kannel's sendsms is a GET: no layer (aiohttp retries idempotent methods itself) may send it twice."""
    aggregator = raw_aggregator("answer-then-close")
    harness = _real(smsgate_harness, backend, aggregator.url, method="GET")
    assert harness.send("ex", FROM, "answered").message.status == "wired"
    dropped = harness.send("ex", FROM, "dropped on the reused connection")
    assert dropped.message.status == "failed" and dropped.message.error_code == "read_timeout"
    assert [r.split(b" ")[0] for r in aggregator.requests] == [b"GET", b"GET"]


def test_reset_after_the_request_is_sent_is_not_repeated(smsgate_harness, backend, raw_aggregator):
    aggregator = raw_aggregator("reset")
    harness = _real(smsgate_harness, backend, aggregator.url)
    outcome = harness.send("ex", FROM, "reset")
    assert outcome.message.status == "failed" and outcome.message.error_code == "read_timeout"
    port = aggregator.url.split(":")[2].split("/")[0]
    assert harness.logs(message_id=outcome.message.id)[0]["traces"][0]["error"] == (
        f"no answer from 127.0.0.1:{port} after the request was sent (connection reset)")
    assert len(aggregator.requests) == 1


def test_slow_answer_within_the_timeout_is_wired_once(smsgate_harness, backend, raw_aggregator):
    aggregator = raw_aggregator("ok", delay=0.4)
    harness = _real(smsgate_harness, backend, aggregator.url, timeout=3)
    outcome = harness.send("ex", FROM, "patience")
    assert outcome.message.status == "wired" and len(aggregator.requests) == 1
    assert harness.logs(message_id=outcome.message.id)[0]["traces"][0]["elapsed_ms"] >= 300


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


def _seconds_until(stamp: str) -> float:
    return (datetime.fromisoformat(stamp) - datetime.now(UTC)).total_seconds()


@pytest.mark.parametrize(("retry_after", "wait"), [("120", 120), (None, 120)], ids=["seconds", "http-date"])
def test_429_with_a_long_retry_after_is_left_to_the_worker(smsgate_harness, retry_after, wait):
    header = retry_after or _http_date(wait)
    harness = smsgate_harness(_channel("https://aggregator.example/send", max_retry_wait=5),
                              respond=lambda r: httpx.Response(429, headers={"Retry-After": header}))
    outcome = harness.send("ex", FROM, "throttled")
    assert outcome.message.status == "errored" and outcome.message.error_code == "429"
    assert len(harness.requests) == 1  # longer than max_retry_wait: no sleeping inside the attempt
    assert wait - 3 <= outcome.result.retry_after <= wait
    worker = open_worker(harness.gateway, max_attempts=5)
    harness.run(worker.run_once())  # the worker's attempt is throttled again and scheduled as asked
    stored = harness.message(outcome.message.id)
    assert stored.status == "errored" and wait - 5 <= _seconds_until(stored.next_attempt_at) <= wait
    assert harness.run(worker.run_once()) == 0 and len(harness.requests) == 2  # nothing before that time


@pytest.mark.parametrize("retry_after", ["0", "1", _http_date(-60), _http_date(1)],
                         ids=["zero", "one-second", "date-in-the-past", "date-in-a-second"])
def test_429_with_a_short_retry_after_is_retried_in_the_attempt(smsgate_harness, retry_after):
    answers = iter([httpx.Response(429, headers={"Retry-After": retry_after}), httpx.Response(200, text="ok")])
    harness = smsgate_harness(_channel("https://aggregator.example/send", max_retry_wait=2),
                              respond=lambda r: next(answers))
    started = time.monotonic()
    outcome = harness.send("ex", FROM, "throttled once")
    assert outcome.message.status == "wired" and len(harness.requests) == 2
    assert time.monotonic() - started < 5


def test_500s_are_retried_then_given_up(smsgate_harness):
    harness = smsgate_harness(_channel("https://aggregator.example/send"), respond=lambda r: httpx.Response(500),
                              gateway={"send_max_attempts": 2})
    outcome = harness.send("ex", FROM, "server down")
    assert outcome.message.status == "errored" and outcome.message.error_code == "500" and len(harness.requests) == 3
    final = _worker_until_final(harness, outcome.message.id, max_attempts=2)
    assert final.status == "failed"
    assert final.error_reason.startswith("gave up after 2 attempt(s); last error: HTTP 500")
    assert len(harness.requests) == 6  # two attempts of three tries: a 5xx means the aggregator did not take it
    assert [h["status"] for h in final.history] == ["queued", "errored", "errored", "failed"]


def test_500_then_success_is_wired_once(smsgate_harness):
    answers = iter([httpx.Response(500), httpx.Response(503), httpx.Response(200, text="ok")])
    harness = smsgate_harness(_channel("https://aggregator.example/send"), respond=lambda r: next(answers))
    outcome = harness.send("ex", FROM, "flaky")
    assert outcome.message.status == "wired" and len(harness.requests) == 3
    assert harness.send_message(_same(outcome)).sent is False  # the same id again: never sent twice
    assert len(harness.requests) == 3


def _same(outcome: Any) -> Any:
    from smsgate import OutgoingMessage

    m = outcome.message
    return OutgoingMessage(channel=m.channel, to=m.to, text=m.text, id=m.id)


# -- delivery reports ------------------------------------------------------------------------------------------------


class StatusRecorder:
    """Records every status-change broadcast."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, str | None, str]] = []

    @hookimpl
    def smsgate_status_changed(self, update: Any, previous: Any, current: Any) -> None:
        self.calls.append((update.message_id, previous and previous.value, current.value))


WEBHOOK = {"webhooks": [{"url": "https://hooks.example/in", "secret": "dlr-test-secret-0001"}]}
HTTP_DLRS = {"sent": Status.SENT, "delivered": Status.DELIVERED, "failed": Status.FAILED}
TWILIO_DLRS = {"queued": Status.SENT, "sent": Status.SENT, "delivered": Status.DELIVERED, "read": Status.READ,
               "failed": Status.FAILED, "undelivered": Status.FAILED}
KANNEL_DLRS = {"1": Status.DELIVERED, "2": Status.FAILED, "4": Status.SENT, "8": Status.SENT, "16": Status.FAILED}


def _expected(reports: list[Status]) -> list[Status]:
    """The transitions that must apply, in order: each report that ranks above the current status."""
    current, applied = Status.WIRED, []
    for status in reports:
        if status.rank > current.rank:
            current = status
            applied.append(status)
    return applied


def _webhooked(harness: Any, message_id: str) -> list[str]:
    rows = harness.store.call_sync(lambda conn: conn.execute(
        "SELECT payload FROM outbox WHERE key = ? AND type = 'message.status_changed' ORDER BY seq",
        (message_id,)).fetchall())
    return [json.loads(r[0])["data"]["status"] for r in rows]


def _check_reports(harness: Any, recorder: StatusRecorder, message_id: str, reports: list[Status]) -> None:
    stored = harness.message(message_id)
    applied = [h["status"] for h in stored.history if h["applied"]]
    expected = ["queued", "wired", *[s.value for s in _expected(reports)]]
    assert applied == expected  # never backwards, never the same transition twice
    assert stored.status == expected[-1]
    ranks = [Status(s).rank for s in applied]
    assert ranks == sorted(ranks) and len(set(applied)) == len(applied)
    assert [c for c in recorder.calls if c[0] == message_id] == [
        (message_id, a, b) for a, b in zip([None, *expected], expected, strict=False)]  # one broadcast per move
    assert _webhooked(harness, message_id) == expected  # one webhook per move


@pytest.fixture
def recorder(smsgate_register: Any) -> StatusRecorder:
    plugin = StatusRecorder()
    smsgate_register(plugin, f"status-recorder-{id(plugin)}")
    return plugin


def _send(harness: Any, channel: str) -> str:
    return harness.send(channel, FROM, "report me").message.id


REPORTS = st.lists(st.tuples(st.sampled_from(sorted(HTTP_DLRS)), st.sampled_from(["GET", "POST"]),
                             st.sampled_from(["id", "uuid"]), st.booleans()), min_size=1, max_size=8)


def test_http_reports_out_of_order_and_repeated(smsgate_harness, recorder):
    harness = smsgate_harness(_channel("https://aggregator.example/send"), gateway=WEBHOOK,
                              respond=lambda r: httpx.Response(200, text="ok"))

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(reports=REPORTS)
    def run(reports: list[tuple[str, str, str, bool]]) -> None:
        message_id = _send(harness, "ex")
        for action, method, key, upper in reports:
            value = message_id.upper() if upper else message_id
            kwargs = {"params": {key: value}} if method == "GET" else {"data": {key: value}}
            assert harness.request(method, f"/c/ex/{action}", **kwargs).status_code == 200
        _check_reports(harness, recorder, message_id, [HTTP_DLRS[a] for a, *_ in reports])

    run()


def test_twilio_reports_out_of_order_and_repeated(smsgate_harness, recorder):
    sids = iter(f"SM{n:032x}" for n in range(10_000))
    harness = smsgate_harness({"tw": {"adapter": "twilio", "account_sid": "AC" + "1" * 32, "auth_token": "tok-dlr",
                                      "address": "+12025550100", "validate_signatures": False}},
                              gateway=WEBHOOK, respond=lambda r: httpx.Response(201, json={"sid": next(sids)}))

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(reports=st.lists(st.tuples(st.sampled_from(sorted(TWILIO_DLRS)), st.booleans()), min_size=1, max_size=8))
    def run(reports: list[tuple[str, bool]]) -> None:
        message_id = _send(harness, "tw")
        sid = harness.message(message_id).external_ids[0]
        for status, with_our_id in reports:
            path = f"/c/tw/status?id={message_id}" if with_our_id else "/c/tw/status"  # by our id or by Twilio's sid
            response = harness.request("POST", path, data={"MessageSid": sid, "MessageStatus": status})
            assert response.status_code == 200
        _check_reports(harness, recorder, message_id, [TWILIO_DLRS[s] for s, _ in reports])

    run()


def test_kannel_reports_out_of_order_and_repeated(smsgate_harness, recorder):
    if "kannel" not in get_adapters():
        pytest.skip("smsgate-kannel is not installed")
    harness = smsgate_harness({"kn": {"adapter": "kannel", "country": "US", "address": "2020", "username": "gate",
                                      "password": "kannel-dlr-pw", "send_url": "http://kannel.example/cgi-bin/sendsms"}},
                              gateway=WEBHOOK, respond=lambda r: httpx.Response(202, text="0: Accepted for delivery"))

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(reports=st.lists(st.sampled_from(sorted(KANNEL_DLRS)), min_size=1, max_size=8))
    def run(reports: list[str]) -> None:
        message_id = _send(harness, "kn")
        for dlr in reports:
            response = harness.request("GET", "/c/kn/status", params={"id": message_id, "status": dlr,
                                                                      "smsc_reply": "ACK/"})
            assert response.status_code == 200
        _check_reports(harness, recorder, message_id, [KANNEL_DLRS[d] for d in reports])

    run()


@pytest.mark.parametrize("action", ["delivered", "failed", "sent"])
def test_concurrent_duplicate_reports_apply_once(smsgate_harness, recorder, action):
    harness = smsgate_harness(_channel("https://aggregator.example/send"), gateway=WEBHOOK,
                              respond=lambda r: httpx.Response(200, text="ok"))
    message_id = _send(harness, "ex")

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=harness.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            answers = await asyncio.gather(*[client.post(f"/c/ex/{action}", data={"id": message_id})
                                             for _ in range(25)])
        return [a.status_code for a in answers]

    assert harness.run(burst()) == [200] * 25
    _check_reports(harness, recorder, message_id, [HTTP_DLRS[action]])
    assert len(harness.message(message_id).history) == 3  # queued, wired, and the report once


def test_replayed_stale_report_is_recorded_once(smsgate_harness):
    harness = smsgate_harness(_channel("https://aggregator.example/send"),
                              respond=lambda r: httpx.Response(200, text="ok"))
    message_id = _send(harness, "ex")
    for action in ("delivered", "sent", "sent", "sent"):
        assert harness.request("POST", f"/c/ex/{action}", data={"id": message_id}).status_code == 200
    history = [(h["status"], h["applied"]) for h in harness.message(message_id).history]
    assert history == [("queued", True), ("wired", True), ("delivered", True), ("sent", False)]
