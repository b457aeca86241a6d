"""Link state from evidence (sends, probes), the log lines an operator acts on, and the worker on a dead link."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from datetime import datetime

import httpx
import pytest
from smsgate import OutgoingMessage
from smsgate.host import channel_status, configure_logging, open_prober, open_worker
from smsgate.store import LinkSeen

from tests.support.toy_adapter import Toy

IDS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(10)]
REFUSED = "cannot connect to aggregator.test:80 (connection refused)"


def refuse(request):
    raise httpx.ConnectError("connection failed", request=request) from ConnectionRefusedError(111, "refused")


@pytest.fixture
def env(smsgate_harness):
    """A harness with toy channel `t` (one HTTP try per attempt, probed every 30 s) and its worker."""

    def make(respond=None, channel=None, **gateway):
        h = smsgate_harness({"t": {"adapter": "toy", "country": "RW", "max_retry_wait": 0, "max_attempts": 1,
                                   **(channel or {})}},
                            gateway={"send_retry_base": 10, "send_retry_max": 100, "send_max_attempts": 3,
                                     **gateway},
                            adapters=[Toy], respond=respond or (lambda r: httpx.Response(200, text="ext-1")))
        return h, open_worker(h.gateway, poll_interval=0.05)

    return make


def queue(h, *ids):
    for message_id in ids:
        h.run(h.gateway.enqueue(OutgoingMessage("t", "+250788383383", "hello", id=message_id)))


def stored_links(h):
    return {name: (link.state, link.reason) for name, link in h.run(h.store.links()).items()}


# -- what the operator reads in the log -------------------------------------------------------------------

def test_each_failed_attempt_is_one_warning_and_a_failed_message_one_error(env, caplog):
    h, worker = env(respond=refuse, channel={"health_interval": 0})  # no trial pacing: every due attempt runs
    queue(h, IDS[0])
    caplog.set_level(logging.INFO, logger="smsgate")
    h.run(worker.run_once())
    stored = h.message(IDS[0])
    (line,) = [r for r in caplog.records if r.name == "smsgate.worker"]
    assert line.levelname == "WARNING"
    text = line.getMessage()
    next_at = datetime.fromisoformat(stored.next_attempt_at)
    assert text.startswith(f"channel t: message {IDS[0]}: attempt 1 of 3 failed: {REFUSED}; next attempt at ")
    # the time announced is the one the worker stored, to the millisecond
    assert abs((datetime.fromisoformat(line.next_attempt_at) - next_at).total_seconds()) < 0.001
    assert (line.channel, line.message_id, line.attempt, line.max_attempts) == ("t", IDS[0], 1, 3)
    assert line.error_code == "connection_failed" and line.reason == REFUSED

    caplog.clear()
    for _ in (2, 3):  # due at once, twice more: the third attempt is the last
        h.run(h.store.schedule_retry(IDS[0], datetime.fromisoformat("2000-01-01T00:00:00+00:00")))
        h.run(worker.run_once())
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "smsgate.worker"]
    assert lines[0][0] == "WARNING" and "attempt 2 of 3 failed" in lines[0][1]
    assert lines[1] == ("ERROR", f"channel t: message {IDS[0]} failed after 3 attempt(s): {REFUSED}")
    assert h.message(IDS[0]).status == "failed"


def test_a_message_failed_at_once_is_one_error_naming_the_answer(env, caplog):
    h, worker = env(respond=lambda r: httpx.Response(400, text="bad number"))
    queue(h, IDS[1])
    caplog.set_level(logging.INFO, logger="smsgate")
    h.run(worker.run_once())
    (line,) = [r for r in caplog.records if r.name == "smsgate.worker"]
    assert (line.levelname, line.getMessage()) == (
        "ERROR", f"channel t: message {IDS[1]} failed on attempt 1 of 3, not retried: HTTP 400 from aggregator.test")


def test_json_lines_carry_the_fields(env, capsys):
    h, worker = env(respond=refuse)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("smsgate").level)
    try:
        configure_logging("warning", "json")
        queue(h, IDS[2])
        h.run(worker.run_once())
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.getLogger("smsgate").setLevel(saved[2])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    (attempt,) = [line for line in lines if line["logger"] == "smsgate.worker"]
    assert attempt["level"] == "WARNING" and attempt["ts"].endswith("Z")
    assert (attempt["channel"], attempt["message_id"], attempt["attempt"]) == ("t", IDS[2], 1)
    assert attempt["next_attempt_at"] == h.message(IDS[2]).next_attempt_at[:23] + "Z"
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        configure_logging("info", "xml")


# -- evidence from sends ------------------------------------------------------------------------------------

def test_a_send_that_cannot_connect_downs_the_link_and_any_answer_ups_it(env):
    h, _worker = env(respond=refuse)
    h.send("t", "+250788383383", "one")
    assert stored_links(h) == {"t": ("down", REFUSED)}
    assert h.gateway.channels.link_down("t") == REFUSED
    health = h.request("GET", "/healthz").json()
    assert health["status"] == "degraded" and health["channels_down"] == 1
    # a wrong password is an answer: the link is up at once, the error is the channel's last error
    h.respond = lambda r: httpx.Response(401, text="bad credentials")
    h.send("t", "+250788383383", "two")
    assert stored_links(h) == {"t": ("up", "answered a send (HTTP 401)")}
    assert h.request("GET", "/healthz").json()["status"] == "ok"
    (status,) = h.run(channel_status(h.store, {"t": "toy"}))
    assert status.link == "up" and status.last_error is not None and "HTTP 401" in status.last_error["error"]


def test_the_same_evidence_again_writes_nothing_new(env):
    h, _worker = env()
    h.send("t", "+250788383383", "one")
    first = h.run(h.store.links())["t"]
    h.send("t", "+250788383383", "two")
    assert h.run(h.store.links())["t"] == first  # since stays when the link was up already


def test_while_the_link_is_down_the_worker_tries_one_message_per_interval(env):
    h, worker = env(respond=refuse, channel={"health_interval": 3600})
    h.run(h.gateway.links.seen([LinkSeen("t", "down", REFUSED, probed=True)]))
    assert h.run(worker.run_once()) == 0  # nothing queued yet: a round that finds nothing spends no trial
    queue(h, *IDS[:5])
    assert h.run(worker.run_once()) == 1  # one trial, not the whole queue
    assert h.run(worker.run_once()) == 0  # the next trial waits for the interval
    waiting = [h.message(i) for i in IDS[:5]]
    assert sorted(m.attempts for m in waiting) == [0, 0, 0, 0, 1]  # the others spent nothing
    h.respond = lambda r: httpx.Response(200, text="ok")
    h.run(h.gateway.links.seen([LinkSeen("t", "up", "reachable", probed=True)]))  # the probe gets through
    assert h.run(worker.run_once()) == 4
    assert [h.message(i).status for i in IDS[:5]].count("wired") == 4


def test_a_trial_that_sent_nothing_frees_the_next_one(env):
    h, _ = env(respond=refuse, channel={"health_interval": 3600})
    first = h.send("t", "+250788383383", "one").message  # errored, and the link down by its evidence
    queue(h, IDS[0])
    worker = open_worker(h.gateway, max_attempts=1)  # the errored one is over the limit: failed with no request
    assert h.run(worker.run_once()) == 1 and h.message(first.id).status == "failed"
    assert h.run(worker.run_once()) == 1  # so it tested nothing, and the next message is the trial
    assert h.message(IDS[0]).attempts == 1


def test_without_probing_a_dead_link_does_not_hold_the_queue(env):
    h, worker = env(respond=refuse, channel={"health_interval": 0})
    h.send("t", "+250788383383", "one")  # down by a send's evidence, but nothing would ever probe it up
    queue(h, *IDS[:3])
    assert h.run(worker.run_once()) == 4  # the three, and the errored one the direct send left


# -- the prober -------------------------------------------------------------------------------------------

class Probed(Toy):
    """The toy adapter with a URL to probe (a real TCP port on 127.0.0.1)."""

    name = "probed"
    target = ""

    def probe_url(self):
        return self.target


def test_the_prober_finds_a_listening_port_up_and_a_closed_one_down(smsgate_harness):
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    try:
        h = smsgate_harness({"up": {"adapter": "probed", "country": "RW"},
                             "down": {"adapter": "probed", "country": "RW"},
                             "off": {"adapter": "probed", "country": "RW", "health_interval": 0}},
                            adapters=[Probed])
        ports = {"up": listening.getsockname()[1], "down": closed.getsockname()[1], "off": 1}
        for name, adapter in h.gateway.adapters.items():
            adapter.target = f"http://127.0.0.1:{ports[name]}/send"
        prober = open_prober(h.gateway)
        assert h.run(prober.run_once()) == 2  # "off" is never probed
        links = h.run(h.store.links())
        assert set(links) == {"up", "down"}
        assert (links["up"].state, links["up"].reason) == ("up", f"127.0.0.1:{ports['up']} reachable")
        assert links["down"].state == "down"
        assert links["down"].reason == f"cannot connect to 127.0.0.1:{ports['down']} (connection refused)"
        assert links["up"].probed_at is not None
        listening.close()  # the aggregator dies
        h.run(asyncio.sleep(0.01))
        h.run(prober.run_once())
        assert h.run(h.store.links())["up"].state == "down"
    finally:
        listening.close()
        closed.close()
