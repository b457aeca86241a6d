"""A callback on one channel never reads or changes another channel's messages.

One gateway with a channel of every adapter. For every ordered pair (A, B), a message is sent on B, then A's own
status callback names it — by smsgate's id and by B's external id, with A's credentials where A has any. B's
message must not move, its history must not grow, no webhook may be planned, and A's answer and channel log
must read exactly as for an id nobody knows. Kannel's DLR route and an http channel without `inbound_secret`
take no credentials by design, so without the store's channel scoping any client could mark any message
delivered (and RapidPro would hear it through the bridge, and `resend` would then send it twice).
"""

from __future__ import annotations

import itertools
import uuid

import httpx
import pytest
from smsgate_twilio import compute_signature

PUBLIC = "https://gateway.example"
TWILIO_TOKEN = "scope-twilio-token-1"
CHANNELS = {
    "http": {"adapter": "http", "country": "US", "address": "+12025550100",
             "send_url": "http://http-aggregator.test/send"},
    "twilio": {"adapter": "twilio", "country": "US", "address": "+12025550101", "account_sid": "AC" + "a" * 32,
               "auth_token": TWILIO_TOKEN, "base_url": "http://twilio.test", "validate_signatures": True},
    "kannel": {"adapter": "kannel", "country": "US", "address": "2020", "username": "gate",
               "password": "scope-kannel-pass", "send_url": "http://kannel.test/cgi-bin/sendsms"},
}
ADAPTERS = list(CHANNELS)


def respond(request: httpx.Request) -> httpx.Response:
    """Each aggregator accepts and names the message its own way."""
    if request.url.host == "twilio.test":
        return httpx.Response(201, json={"sid": f"SM{uuid.uuid4().hex}", "status": "queued", "num_segments": "1"})
    if request.url.host == "kannel.test":
        return httpx.Response(202, text="0: Accepted for delivery")
    return httpx.Response(200, text="ok")


def status_callbacks(channel: str, message_id: str, external_id: str | None) -> list[tuple[str, str, dict]]:
    """(method, path, form) requests channel `channel`'s status route would accept for such a message."""
    if channel == "http":
        return [("POST", "/c/http/delivered", {"id": message_id}), ("POST", "/c/http/failed", {"uuid": message_id})]
    if channel == "kannel":
        return [("GET", f"/c/kannel/status?id={message_id}&status=1", {}),
                ("GET", f"/c/kannel/status?id={message_id}&status=16", {})]
    assert channel == "twilio"
    calls = [("POST", f"/c/twilio/status?id={message_id}", {"MessageSid": external_id or "SMnone",
                                                              "MessageStatus": "delivered"})]
    if external_id:
        calls.append(("POST", "/c/twilio/status", {"MessageSid": external_id, "MessageStatus": "failed"}))
    return calls


def call(harness, method, path, form):
    headers = {}
    if path.startswith("/c/twilio/"):  # A's own, valid signature: only channel scoping can stop it
        headers["X-Twilio-Signature"] = compute_signature(TWILIO_TOKEN, PUBLIC + path, list(form.items()))
    if method == "GET":
        return harness.request("GET", path, headers=headers)
    return harness.request(method, path, data=form, headers=headers)


def snapshot(harness, message_id):
    stored = harness.message(message_id)
    outbox = harness.store.call_sync(lambda conn: conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
    return stored.status, [(h["status"], h["applied"]) for h in stored.history], outbox


@pytest.fixture
def gateway(smsgate_harness):
    harness = smsgate_harness(CHANNELS, gateway={"public_url": PUBLIC, "webhooks": [
        {"url": "https://hooks.example/in", "secret": "scope-webhook-secret"}]}, respond=respond)
    sent = {}
    for name in ADAPTERS:
        outcome = harness.send(name, "+12025550123", f"hello from {name}")
        assert outcome.ok, outcome.message.error_reason
        sent[name] = outcome.message
    return harness, sent


@pytest.mark.parametrize(("attacker", "victim"), [p for p in itertools.permutations(ADAPTERS, 2)],
                         ids=lambda v: v)
def test_a_callback_cannot_touch_another_channels_message(gateway, attacker, victim):
    harness, sent = gateway
    target = sent[victim]
    external = target.external_ids[0] if target.external_ids else None
    before = snapshot(harness, target.id)
    unknown_id = str(uuid.uuid4())
    for method, path, form in status_callbacks(attacker, target.id, external):
        response = call(harness, method, path, form)
        # the same answer as for an id nobody ever sent: a foreign id gives nothing away
        probe = call(harness, method, path.replace(target.id, unknown_id),
                     {k: (unknown_id if v == target.id else v) for k, v in form.items()})
        assert response.status_code == probe.status_code == 200, response.text
        assert response.headers.get("content-type") == probe.headers.get("content-type")
        if "json" in response.headers.get("content-type", ""):
            for item in response.json().get("data", []):
                assert item.get("applied") is False and item.get("known_message") is False, item
        assert snapshot(harness, target.id) == before, (method, path, form)
    logged = [log for log in harness.logs(channel=attacker, limit=50) if log["kind"] != "send"]
    assert logged and all(any("names no message of channel" in e for e in log["errors"]) for log in logged), logged


@pytest.mark.parametrize("name", ADAPTERS)
def test_the_same_callback_on_the_messages_own_channel_does_move_it(gateway, name):
    """The control: the requests above are well-formed, so scoping is what stopped them."""
    harness, sent = gateway
    target = sent[name]
    external = target.external_ids[0] if target.external_ids else None
    method, path, form = status_callbacks(name, target.id, external)[0]
    response = call(harness, method, path, form)
    assert response.status_code == 200, response.text
    stored = harness.message(target.id)
    assert stored.status == "delivered", (name, stored.history)
    assert any(log["message_id"] == target.id for log in harness.logs(channel=name) if log["kind"] != "send")
