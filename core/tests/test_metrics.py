"""/metrics: who may read it, and that each counter and gauge counts what docs/operations.md says it does."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from smsgate.host import open_outbox
from smsgate.web._metrics import UNKNOWN_CHANNEL

from tests.support.toy_adapter import Toy

TOKEN = "metrics-test-token-0123456"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def gate(smsgate_harness):
    def make(respond=None, channel=None, **gateway):
        return smsgate_harness({"t": {"adapter": "toy", "country": "RW", "max_retry_wait": 0, **(channel or {})}},
                               gateway={"api_token": TOKEN, **gateway}, adapters=[Toy],
                               respond=respond or (lambda r: httpx.Response(200, text="ext-1")))

    return make


def scrape(h):
    """Every sample of /metrics as {(name, sorted labels): value}."""
    r = h.request("GET", "/metrics", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_need_the_api_token_unless_public(gate, smsgate_harness):
    h = gate()
    assert h.request("GET", "/metrics").status_code == 401
    assert h.request("GET", "/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert h.request("GET", "/metrics", headers=AUTH).status_code == 200
    closed = smsgate_harness({"t": {"adapter": "toy", "country": "RW"}}, adapters=[Toy])
    assert closed.request("GET", "/metrics").status_code == 403  # no token configured: never open by accident
    public = smsgate_harness({"t": {"adapter": "toy", "country": "RW"}}, adapters=[Toy],
                             gateway={"metrics_public": True})
    assert public.request("GET", "/metrics").status_code == 200


def test_sends_answers_retries_and_latency(gate):
    answers = iter([httpx.Response(503), httpx.Response(200, text="ok"), httpx.Response(400), httpx.Response(500),
                    httpx.Response(500), httpx.Response(500)])
    h = gate(respond=lambda r: next(answers))
    h.send("t", "+250788383383", "one")  # 503 then 200: accepted after one request retry
    h.send("t", "+250788383383", "two")  # 400: failed
    errored = h.send("t", "+250788383383", "three").message  # 500 three times: errored
    s = scrape(h)
    assert value(s, "smsgate_sends_total", channel="t", outcome="accepted") == 1
    assert value(s, "smsgate_sends_total", channel="t", outcome="failed") == 1
    assert value(s, "smsgate_sends_total", channel="t", outcome="errored") == 1
    assert value(s, "smsgate_sends_total", channel="t", outcome="in_doubt") == 0
    assert value(s, "smsgate_aggregator_responses_total", channel="t", status_class="5xx") == 4
    assert value(s, "smsgate_aggregator_responses_total", channel="t", status_class="2xx") == 1
    assert value(s, "smsgate_aggregator_responses_total", channel="t", status_class="4xx") == 1
    assert value(s, "smsgate_retries_total", channel="t", kind="request") == 3  # 1 for "one", 2 for "three"
    assert value(s, "smsgate_send_duration_seconds_count", channel="t") == 3
    assert value(s, "smsgate_messages_total", channel="t", direction="out", status="queued") == 3
    assert value(s, "smsgate_messages_total", channel="t", direction="out", status="wired") == 1
    assert value(s, "smsgate_messages_total", channel="t", direction="out", status="failed") == 1
    assert value(s, "smsgate_messages_total", channel="t", direction="out", status="errored") == 1
    # the errored one waits in the queue; a second worker attempt counts as an attempt retry
    assert value(s, "smsgate_queue_depth", channel="t") == 1
    assert value(s, "smsgate_oldest_queued_seconds", channel="t") > 0
    h.respond = lambda r: httpx.Response(200, text="ok")
    h.run(h.gateway.send_claimed(h.run(h.store.claim(errored.id))))
    s = scrape(h)
    assert value(s, "smsgate_retries_total", channel="t", kind="attempt") == 1
    assert value(s, "smsgate_queue_depth", channel="t") == 0
    assert value(s, "smsgate_oldest_queued_seconds", channel="t") == 0
    assert value(s, "smsgate_channel_info", channel="t", adapter="toy") == 1


def test_a_read_timeout_is_a_send_in_doubt(gate):
    def slow(request):
        raise httpx.ReadTimeout("slow", request=request)

    h = gate(respond=slow)
    h.send("t", "+250788383383", "hello")
    s = scrape(h)
    assert value(s, "smsgate_sends_total", channel="t", outcome="in_doubt") == 1
    assert value(s, "smsgate_aggregator_responses_total", channel="t", status_class="none") == 1


def test_inbound_rejections_and_opt_outs(gate):
    h = gate()
    assert h.request("POST", "/c/t/receive", data={"from": "0788383383", "text": "hi"}).status_code == 200
    assert h.request("POST", "/c/t/receive", data={"text": "no sender"}).status_code == 400
    assert h.request("POST", "/c/t/receive", content=b"x" * (1024 * 1024 + 1)).status_code == 413
    assert h.request("POST", "/c/t/nope").status_code == 404
    assert h.request("GET", "/c/t/status").status_code == 405
    for i in range(5):  # random channel names share one label: a scanner cannot grow the series
        assert h.request("POST", f"/c/scan{i}/receive").status_code == 404
    assert h.request("POST", "/c/t/stopped", data={"from": "0788383383"}).status_code == 200
    s = scrape(h)
    assert value(s, "smsgate_messages_total", channel="t", direction="in", status="received") == 1
    for reason, n in (("400", 1), ("413", 1), ("404", 1), ("405", 1), ("401", 0)):
        assert value(s, "smsgate_callbacks_rejected_total", channel="t", reason=reason) == n, reason
    assert value(s, "smsgate_callbacks_rejected_total", channel=UNKNOWN_CHANNEL, reason="404") == 5
    assert not any(dict(labels).get("channel", "").startswith("scan") for _name, labels in s)
    assert value(s, "smsgate_opt_outs_total", channel="t") == 1


def test_outbox_depth_age_and_deliveries(gate):
    hook = "https://hooks.example/in?token=receiver-secret-42"
    h = gate(webhooks=[{"url": hook, "secret": "hook-secret"}])
    h.send("t", "+250788383383", "hello")  # queued and wired: two webhook calls
    s = scrape(h)
    assert value(s, "smsgate_outbox_depth") == 2 and value(s, "smsgate_outbox_oldest_age_seconds") > 0
    answers = iter([httpx.Response(503), httpx.Response(204), httpx.Response(204)])
    h.respond = lambda r: next(answers)
    dispatcher = open_outbox(h.gateway, retry_base=0, retry_max=0)
    h.run(dispatcher.drain())
    s = scrape(h)
    assert value(s, "smsgate_outbox_deliveries_total", target="webhook:hooks.example", outcome="failed") == 1
    assert value(s, "smsgate_outbox_deliveries_total", target="webhook:hooks.example", outcome="delivered") == 2
    assert value(s, "smsgate_outbox_depth") == 0
    assert "receiver-secret-42" not in h.request("GET", "/metrics", headers=AUTH).text


def test_gateways_in_one_process_count_apart(gate):
    a, b = gate(), gate()
    a.send("t", "+250788383383", "only on a")
    assert value(scrape(a), "smsgate_sends_total", channel="t", outcome="accepted") == 1
    assert value(scrape(b), "smsgate_sends_total", channel="t", outcome="accepted") == 0


def test_every_metric_is_documented():
    """docs/operations.md has a row for every metric /metrics exports (and none that it does not)."""
    from smsgate.host import Gateway, config_from_dict, create_app

    config = config_from_dict({"gateway": {"database": ":memory:", "metrics_public": True},
                               "channels": {"t": {"adapter": "toy", "country": "RW"}}}, {"toy": Toy})
    gateway = Gateway(config)
    app = create_app(gateway)

    async def get():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return (await client.get("/metrics")).text

    import asyncio

    try:
        exported = {f.name for f in text_string_to_metric_families(asyncio.run(get()))}
    finally:
        asyncio.run(gateway.close())
    assert not [name for name in exported if name.endswith("_created")]  # no timestamp twin of every counter
    docs = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(smsgate_\w+)", docs, re.M))
    counters = {n for n in exported if n + "_total" in documented}
    assert {n + "_total" if n in counters else n for n in exported} == documented


def test_links_latencies_and_a_status_counted_once(gate):
    answers = iter([httpx.Response(500), httpx.Response(500), httpx.Response(200, text="ext-9")])
    h = gate(respond=lambda r: next(answers), channel={"max_attempts": 1})
    assert ("smsgate_channel_up", (("channel", "t"),)) not in scrape(h)  # unknown: no evidence yet, no series
    message = h.send("t", "+250788383383", "hello").message  # 500: errored
    for _ in range(2):  # two more worker attempts: errored again, then wired
        h.run(h.gateway.send_claimed(h.run(h.store.claim(message.id))))
    h.request("POST", "/c/t/status", data={"status": "delivered", "id": message.id})
    s = scrape(h)
    assert value(s, "smsgate_channel_up", channel="t") == 1  # every answer, a 500 too, is a link that is up
    # the message errored twice but counts once in errored; its attempts are in smsgate_sends_total
    assert value(s, "smsgate_messages_total", channel="t", direction="out", status="errored") == 1
    assert value(s, "smsgate_sends_total", channel="t", outcome="errored") == 2
    for status in ("queued", "wired", "delivered"):
        assert value(s, "smsgate_messages_total", channel="t", direction="out", status=status) == 1, status
    assert value(s, "smsgate_queued_to_wired_seconds_count", channel="t") == 1
    assert value(s, "smsgate_wired_to_delivered_seconds_count", channel="t") == 1
    stored = h.message(message.id)
    at = {e["status"]: datetime.fromisoformat(e["at"]) for e in stored.history if e["applied"]}
    queued_for = (at["wired"] - datetime.fromisoformat(stored.created_at)).total_seconds()
    assert 0 < value(s, "smsgate_queued_to_wired_seconds_sum", channel="t") >= queued_for
    assert value(s, "smsgate_wired_to_delivered_seconds_sum", channel="t") >= (at["delivered"] - at["wired"]
                                                                                 ).total_seconds()

    def refused(request):
        raise httpx.ConnectError("no", request=request) from ConnectionRefusedError(111, "refused")

    h.respond = refused
    h.send("t", "+250788383383", "into the void")
    assert value(scrape(h), "smsgate_channel_up", channel="t") == 0
