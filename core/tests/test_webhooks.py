"""Signed platform webhooks from the durable outbox: signature, retries, order, restart, filters, config."""

import asyncio
import base64
import json
import time
from datetime import UTC, datetime

import httpx
import pytest
from smsgate import OutgoingMessage
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict, open_gateway, open_outbox, open_worker, sign_webhook
from smsgate.store import Retention, open_store
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support.rawsql import sql
from tests.support.toy_adapter import Toy

SECRET = "whsec_" + base64.b64encode(b"a-32-byte-signing-key-for-tests!").decode()
HOOK = "https://hooks.test/smsgate"
IDS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(5)]


class Receiver:
    """The fake aggregator and the webhook receiver behind one transport; `answers` scripts the receiver."""

    def __init__(self):
        self.hooks = []
        self.answers = []

    def __call__(self, request):
        if request.url.host == "hooks.test":
            self.hooks.append(request)
            return self.answers.pop(0) if self.answers else httpx.Response(204)
        return httpx.Response(200, text="ext-1")

    def events(self):
        return [json.loads(r.content) for r in self.hooks]


@pytest.fixture
def hooked(smsgate_harness):
    """A factory: a harness with toy channel `t` and the given webhooks, its receiver and a dispatcher."""

    def make(webhooks=None, **dispatcher):
        receiver = Receiver()
        hooks = webhooks if webhooks is not None else [{"url": HOOK, "secret": SECRET}]
        h = smsgate_harness({"t": {"adapter": "toy", "country": "RW", "max_retry_wait": 0, "max_attempts": 1}},
                            gateway={"webhooks": hooks}, adapters=[Toy], respond=receiver)
        return h, receiver, open_outbox(h.gateway, **{"retry_base": 0, **dispatcher})

    return make


def test_signature_verifies_with_the_standard_webhooks_library(hooked):
    h, receiver, outbox = hooked()
    h.request("POST", "/c/t/receive", data={"from": "0788123123", "text": "hola", "id": "mo-1"})
    assert h.run(outbox.drain()) == 1
    request = receiver.hooks[0]
    headers = dict(request.headers)
    payload = Webhook(SECRET).verify(request.content, headers)
    assert payload["type"] == "message.received"
    assert payload["data"]["text"] == "hola" and payload["data"]["from"] == "+250788123123"
    assert payload["data"]["external_id"] == "mo-1" and payload["data"]["channel"] == "t"
    assert request.headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(request.content.replace(b"hola", b"hole"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"another key").decode()).verify(request.content, headers)


def test_a_plain_secret_is_used_as_raw_bytes(hooked):
    h, receiver, outbox = hooked([{"url": HOOK, "secret": "plain shared secret"}])
    h.request("POST", "/c/t/stopped", data={"from": "+250788123123"})
    h.run(outbox.drain())
    request = receiver.hooks[0]
    payload = Webhook(b"plain shared secret").verify(request.content, dict(request.headers))
    assert payload["type"] == "contact.opted_out" and payload["data"]["address"] == "+250788123123"
    stamp = int(request.headers["webhook-timestamp"])
    assert request.headers["webhook-signature"] == sign_webhook(b"plain shared secret",
                                                                request.headers["webhook-id"], stamp,
                                                                request.content.decode())


def test_the_outbox_row_commits_with_the_event(hooked):
    h, receiver, _ = hooked()
    h.request("POST", "/c/t/receive", data={"from": "+250788123123", "text": "x"})
    pending = h.run(h.store.outbox_items(pending=True))  # before any delivery or hook ran
    assert [(i["type"], i["target"]) for i in pending] == [("message.received", f"webhook:{HOOK}")]
    assert receiver.hooks == []


def test_every_status_change_and_opt_out_is_sent(hooked):
    h, receiver, outbox = hooked()
    h.run(h.gateway.enqueue(OutgoingMessage("t", "+250788383383", "hi", id=IDS[0], metadata={"ref": "r1"})))
    h.run(open_worker(h.gateway).drain())
    h.request("POST", "/c/t/status", data={"id": IDS[0], "status": "delivered"})
    h.request("POST", "/c/t/status", data={"id": IDS[0], "status": "delivered"})  # a repeat changes nothing
    h.request("POST", "/c/t/stopped", data={"from": "+250788383383"})
    h.run(outbox.drain())
    events = [e for e in receiver.events() if e["type"] == "message.status_changed"]  # in order per message
    assert [(e["data"]["previous"], e["data"]["status"]) for e in events] == [
        (None, "queued"), ("queued", "wired"), ("wired", "delivered")]
    assert all(e["data"]["metadata"] == {"ref": "r1"} and e["data"]["id"] == IDS[0] for e in events)
    assert events[1]["data"]["external_ids"] == ["ext-1"]
    assert [e["data"]["address"] for e in receiver.events() if e["type"] == "contact.opted_out"] == [
        "+250788383383"]
    assert len(receiver.hooks) == 4


def test_retried_with_the_same_id_until_2xx(hooked):
    h, receiver, outbox = hooked()
    receiver.answers = [httpx.Response(500), httpx.Response(404)]
    h.request("POST", "/c/t/receive", data={"from": "+250788123123", "text": "x"})
    h.run(outbox.drain())
    assert len(receiver.hooks) == 3
    assert len({r.headers["webhook-id"] for r in receiver.hooks}) == 1
    assert len({r.content for r in receiver.hooks}) == 1
    (item,) = h.run(h.store.outbox_items())
    assert item["done_at"] and item["attempts"] == 3 and item["last_error"] is None


def test_backoff_grows_and_honours_retry_after(hooked):
    h, receiver, outbox = hooked(retry_base=10, retry_max=1000)
    receiver.answers = [httpx.Response(500), httpx.Response(503), httpx.Response(429, headers={"Retry-After": "600"})]
    h.request("POST", "/c/t/receive", data={"from": "+250788123123", "text": "x"})
    waits = []
    for _ in range(3):
        sql(h, "UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00+00:00'")
        h.run(outbox.drain())
        (item,) = h.run(h.store.outbox_items())
        waits.append((datetime.fromisoformat(item["next_attempt_at"]) - datetime.now(UTC)).total_seconds())
        assert item["last_error"] in ("HTTP 500", "HTTP 503", "HTTP 429")
    assert 7 <= waits[0] <= 10.1 and 14 <= waits[1] <= 20.1 and 590 <= waits[2] <= 600.1


def test_in_order_per_message_while_other_messages_flow(hooked):
    h, receiver, outbox = hooked(retry_base=1000)
    receiver.answers = [httpx.Response(500)]  # the first event of message 0 fails once
    h.run(h.gateway.enqueue(OutgoingMessage("t", "+250788383383", "a", id=IDS[0])))
    h.run(h.gateway.enqueue(OutgoingMessage("t", "+250788383383", "b", id=IDS[1])))
    h.run(open_worker(h.gateway).drain())
    h.run(outbox.drain())
    delivered = [(e["data"]["id"], e["data"]["status"]) for e in receiver.events()[1:]]
    assert delivered == [(IDS[1], "queued"), (IDS[1], "wired")]  # message 0's wired waits behind its queued
    sql(h, "UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00+00:00'")
    h.run(outbox.drain())
    for_zero = [e["data"]["status"] for e in receiver.events() if e["data"]["id"] == IDS[0]]
    assert for_zero == ["queued", "queued", "wired"]  # the retry, then the next event


def test_pending_webhooks_survive_a_restart(tmp_path, smsgate_database):
    config = config_from_dict({"gateway": {"database": smsgate_database(tmp_path),
                                           "webhooks": [{"url": HOOK, "secret": SECRET}]},
                               "channels": {"t": {"adapter": "toy", "country": "RW"}}}, {"toy": Toy})
    receiver = Receiver()
    transport = httpx.MockTransport(receiver)

    def store():
        return open_store(config.gateway.database, migrate=True)

    async def first_life():
        gateway = open_gateway(config, store=store(), transport=transport)
        await gateway.enqueue(OutgoingMessage("t", "+250788383383", "a", id=IDS[0]))
        await gateway.store.outbox_due(lease_seconds=1.5)  # taken by a dispatcher that then dies
        await gateway.close()
        return time.monotonic()

    async def second_life():
        gateway = open_gateway(config, store=store(), transport=transport)
        outbox = open_outbox(gateway, poll_interval=0.01)
        outbox.start()
        for _ in range(500):
            # delivered and recorded as such: stopping between the answer and its commit would leave it pending
            if receiver.hooks and (await gateway.store.outbox_items())[0]["done_at"] is not None:
                break
            await asyncio.sleep(0.01)
        await outbox.stop()
        items = await gateway.store.outbox_items()
        await gateway.close()
        return time.monotonic(), items

    taken = asyncio.run(first_life())
    assert receiver.hooks == []
    delivered, items = asyncio.run(second_life())
    assert [json.loads(r.content)["data"]["id"] for r in receiver.hooks] == [IDS[0]]
    assert items[0]["done_at"] is not None
    # the dead dispatcher's claim expired, not voided: with several instances it might be another's live claim
    assert delivered - taken >= 1.2


def test_a_slow_receiver_keeps_its_item_with_one_dispatcher(hooked):
    # leases are short and renewed while a delivery runs: another dispatcher (another instance) never takes an
    # item whose receiver is merely slow, yet a dead dispatcher's items are free again within one lease
    h, _receiver, first = hooked(lease_seconds=0.3)
    second = open_outbox(h.gateway, retry_base=0, lease_seconds=0.3)
    started = []

    async def slow(row):
        started.append(row.id)
        await asyncio.sleep(1.0)  # three leases long

    first.deliveries = second.deliveries = {f"webhook:{HOOK}": slow}
    h.request("POST", "/c/t/receive", data={"from": "+250788123123", "text": "x"})

    async def later():
        await asyncio.sleep(0.6)
        return await second.deliver_due()

    async def both():
        return await asyncio.gather(first.deliver_due(), later())

    assert h.run(both()) == [1, 0]
    assert len(started) == 1 and h.run(second.drain()) == 0
    (item,) = h.run(h.store.outbox_items())
    assert item["done_at"] is not None


def test_events_filter(hooked):
    h, receiver, outbox = hooked([{"url": HOOK, "secret": SECRET, "events": ["contact.opted_out"]},
                                  {"url": "https://hooks.test/all", "secret": SECRET}])
    h.request("POST", "/c/t/receive", data={"from": "+250788123123", "text": "x"})
    h.request("POST", "/c/t/stopped", data={"from": "+250788123123"})
    h.run(outbox.drain())
    by_url = sorted((r.url.path, json.loads(r.content)["type"]) for r in receiver.hooks)
    assert by_url == [("/all", "contact.opted_out"), ("/all", "message.received"),
                      ("/smsgate", "contact.opted_out")]


def test_an_unconfigured_target_keeps_its_items(hooked):
    h, receiver, outbox = hooked()
    h.request("POST", "/c/t/receive", data={"from": "+250788123123", "text": "x"})
    outbox.deliveries.clear()  # as if the webhook left the config before a restart
    h.run(outbox.drain())
    (item,) = h.run(h.store.outbox_items())
    assert item["done_at"] is None and "not configured" in item["last_error"] and receiver.hooks == []


@pytest.mark.parametrize(("data", "fragments"), [
    ({"gateway": {"webhooks": [{"url": "ftp://x", "secret": "s"}]}}, ["gateway.webhooks[0].url", "http://"]),
    ({"gateway": {"webhooks": [{"url": HOOK}]}}, ["gateway.webhooks[0].secret", "Field required"]),
    ({"gateway": {"webhooks": [{"url": HOOK, "secret": ""}]}}, ["gateway.webhooks[0].secret", "empty"]),
    ({"gateway": {"webhooks": [{"url": HOOK, "secret": "whsec_%%%"}]}}, ["gateway.webhooks[0].secret", "base64"]),
    ({"gateway": {"webhooks": [{"url": HOOK, "secret": "s", "events": ["sms.sent"]}]}},
     ["gateway.webhooks[0].events[0]", "message.received"]),
    ({"gateway": {"webhooks": [{"url": HOOK, "secret": "s", "retries": 3}]}}, ["gateway.webhooks[0].retries"]),
    ({"webhooks": [{"url": HOOK, "secret": "s"}]}, ["cfg.toml", "[[gateway.webhooks]]"]),
])
def test_bad_webhook_config_names_the_field(data, fragments):
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, {"toy": Toy}, file="cfg.toml")
    for fragment in fragments:
        assert fragment in str(info.value)
    assert "whsec_" not in str(info.value).replace("a whsec_ secret", "")


def _counts(h):
    return {table: sql(h, f"SELECT count(*) FROM {table}")[0][0] for table in ("messages", "channel_logs", "outbox")}


def test_retention_prunes_old_logs_and_delivered_calls_only(hooked):
    from datetime import timedelta

    from smsgate.host import utcnow

    h, receiver, outbox = hooked()
    for i in range(3):
        h.send("t", "+250788383383", f"hello {i}")
    h.run(outbox.deliver_due())  # every event so far delivered
    receiver.answers = [httpx.Response(500)]
    h.send("t", "+250788383383", "its events stay undelivered")
    h.run(outbox.deliver_due())
    before = _counts(h)
    pending = h.run(h.store.outbox_items(pending=True))
    assert before["channel_logs"] == 4 and pending and before["outbox"] > len(pending)

    assert h.run(h.store.prune(utcnow() - timedelta(days=1))) == 0  # nothing is a day old yet
    assert _counts(h) == before
    deleted = h.run(h.store.prune(utcnow() + timedelta(seconds=1)))
    after = _counts(h)
    assert after == {"messages": 4, "channel_logs": 0, "outbox": len(pending)}
    assert deleted == before["channel_logs"] + before["outbox"] - len(pending)
    assert h.run(h.store.outbox_items(pending=True)) == pending  # undelivered calls are never dropped


def test_retention_prunes_hourly_and_not_when_retention_is_zero(smsgate_harness):
    h = smsgate_harness({"t": {"adapter": "toy", "country": "RW"}}, adapters=[Toy])
    h.send("t", "+250788383383", "hello")
    retention = Retention(h.store, retention_days=-1 / 86400)  # "older than one second from now": everything
    assert retention.poll_interval == 3600  # a round an hour
    assert h.run(retention.round()) == 0 and _counts(h)["channel_logs"] == 0  # the send's log is gone
    kept = smsgate_harness({"t": {"adapter": "toy", "country": "RW"}}, gateway={"retention_days": 0},
                           adapters=[Toy])
    kept.send("t", "+250788383383", "kept")
    assert kept.run(Retention.from_settings(kept.store, kept.gateway.config.gateway).prune()) == 0
    assert _counts(kept)["channel_logs"] == 1


def test_message_retention_deletes_finished_messages_from_config(smsgate_harness):
    h = smsgate_harness({"t": {"adapter": "toy", "country": "RW", "max_attempts": 1}},
                        gateway={"retention_days": 0, "message_retention_days": 0.5}, adapters=[Toy],
                        respond=lambda r: httpx.Response(200, text="ext-1"))
    wired = h.send("t", "+250788383383", "old and done").message.id
    h.respond = lambda r: httpx.Response(503)
    errored = h.send("t", "+250788383383", "old, still to retry").message.id
    retention = Retention.from_settings(h.store, h.gateway.config.gateway)
    assert retention.message_retention_days == 0.5
    assert h.run(retention.prune()) == 0  # both are younger than half a day
    retention.message_retention_days = -1 / 86400  # "older than one second from now": everything finished
    assert h.run(retention.prune()) == 1
    assert h.message(wired) is None and h.message(errored).status == "errored"
    assert _counts(h)["channel_logs"] == 2  # logs have their own retention (0 here: kept)


def test_cli_outbox_lists_unacknowledged_calls(tmp_path):
    from smsgate_cli.main import app
    from typer.testing import CliRunner

    config = tmp_path / "smsgate.toml"
    config.write_text(f'[gateway]\ndatabase = "{tmp_path / "db.sqlite3"}"\n\n[[gateway.webhooks]]\n'
                      f'url = "http://127.0.0.1:9/hooks"\nsecret = "{SECRET}"\n\n'
                      '[channels.ex]\nadapter = "http"\ncountry = "RW"\nsend_url = "http://127.0.0.1:9/send"\n'
                      'max_attempts = 1\n')
    runner = CliRunner()
    runner.invoke(app, ["--config", str(config), "send", "hi", "--channel", "ex", "--to", "0788383383"])
    listed = runner.invoke(app, ["--config", str(config), "outbox", "--json"])
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)
    # queued, errored, then failed: a command-line send is not retried later
    assert [i["payload"]["data"]["status"] for i in items] == ["queued", "errored", "failed"], items
    assert {i["type"] for i in items} == {"message.status_changed"}
    assert {i["target"] for i in items} == {"webhook:http://127.0.0.1:9/hooks"}
    assert not any(i["done_at"] for i in items)
    one = runner.invoke(app, ["--config", str(config), "outbox", "--all", "--limit", "1", "--json"])
    assert [i["id"] for i in json.loads(one.stdout)] == [items[0]["id"]]
    assert runner.invoke(app, ["--config", str(config), "outbox"]).exit_code == 0  # the table form


def test_statuses_filter_makes_one_callback_per_message(hooked):
    h, receiver, outbox = hooked([{"url": HOOK, "secret": SECRET, "statuses": ["delivered", "failed"]},
                                  {"url": "https://hooks.test/all", "secret": SECRET}])
    sent = h.send("t", "+250788123123", "hi", id=IDS[0])
    assert sent.message.status == "wired"
    h.request("POST", "/c/t/status", data={"id": IDS[0], "status": "delivered"})
    h.request("POST", "/c/t/receive", data={"from": "+250788123123", "text": "x"})
    h.run(outbox.drain())
    filtered = [json.loads(r.content) for r in receiver.hooks if r.url.path == "/smsgate"]
    assert [(e["type"], e["data"].get("status")) for e in filtered] == [
        ("message.status_changed", "delivered"), ("message.received", None)]
    assert sum(r.url.path == "/all" for r in receiver.hooks) == 4  # queued, wired, delivered, received
    assert len(h.run(h.store.outbox_items())) == 6  # the filtered-out events were never written
