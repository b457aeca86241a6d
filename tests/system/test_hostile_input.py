"""Hostile input: every inbound route of every installed adapter, fuzzed through the real ASGI app.

The properties (see tests/support/hostile.py): never a 5xx or an exception, every 4xx says why and changes nothing
stored, a body over 1 MiB is a 413, a 2xx only for a valid request (method, credentials, fields). A modest run
here (150 examples per route); `fuzz/run.py` runs 10,000 per route.

Rejected requests, requests to unknown channels and replayed webhooks leave the store unchanged. "The store"
here means messages, their status history, opt-outs and the webhook outbox: a rejected request to a known
channel is still written to the channel logs (an audit trail of what aggregators sent, secrets masked), so the
log count may grow for those; a request to an unknown channel adds no log either.

Bugs the fuzzer found are regression tests at the end, with the inputs that found them. A new one is pinned by
an `xfail(strict=True)` test and a `hostile.KNOWN_BUGS` entry until fixed (none is open): inputs that hit it may
fail in exactly that known way inside the property tests, any other failure fails the test.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import urllib.parse

import pytest
from hypothesis import HealthCheck, example, given, settings
from smsgate.plugins import get_adapters

from tests.support import hostile

PROFILES = hostile.profiles()
HTTP = next(p for p in PROFILES if p.label == "http")  # profiles come in adapter-name order: not always first
CASES = [pytest.param(p, action, id=f"{p.label}-{action}") for p in PROFILES for action in p.routes()]
EXAMPLES = 150


def test_every_installed_adapter_is_fuzzed():
    assert {p.adapter for p in PROFILES} == set(get_adapters())
    assert {"http", "twilio"} <= {p.adapter for p in PROFILES}
    assert {p.label for p in PROFILES} >= {"twilio-signed", "twilio-unsigned"}


@pytest.mark.parametrize(("profile", "action"), CASES)
def test_hostile_requests(smsgate_harness, profile, action):
    harness = hostile.setup_harness(smsgate_harness, profile)
    seen: dict[str, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                     HealthCheck.large_base_example])
    @given(spec=hostile.requests(profile, action))
    def run(spec):
        outcome = hostile.check(harness, profile, action, spec)
        seen[outcome.status_class] = seen.get(outcome.status_class, 0) + 1
        if outcome.problem and not outcome.known:
            raise AssertionError(f"{outcome.problem}\nrequest: {spec.short()}")

    valid = hostile.valid_example(profile, action)
    if valid is not None:  # a request the route must accept, whatever the generator happens to reach this run
        run = example(spec=valid)(run)
    run()
    assert seen.get("4xx", 0) > 0, seen
    if valid is not None:
        assert seen.get("2xx", 0) > 0, seen


@pytest.mark.parametrize("target", ["api", "bridge"])
def test_hostile_api_and_bridge_requests(smsgate_harness, target):
    """NaN, Infinity, 1e999, lone surrogates and deep nesting in any field: a 4xx storing nothing, or stored and
    rendered back as strict JSON everywhere; never a 5xx."""
    harness = hostile.api_harness(smsgate_harness)
    seen: dict[str, int] = {}
    strategy = hostile.api_requests() if target == "api" else hostile.bridge_requests()

    @settings(max_examples=EXAMPLES * 2, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(spec=strategy)
    def run(spec):
        outcome = hostile.check_platform(harness, spec)
        seen[outcome.status_class] = seen.get(outcome.status_class, 0) + 1
        if outcome.problem:
            raise AssertionError(f"{outcome.problem}\nrequest: {spec.short()}")

    run = example(spec=hostile.VALID_API if target == "api" else hostile.VALID_BRIDGE)(run)
    run()
    assert seen.get("4xx", 0) > 0 and seen.get("2xx", 0) > 0, seen


@pytest.mark.parametrize(("label", "action", "body"), [
    ("http", "receive", '{"from": "+12025550123", "text": "\\ud800"}'),
    ("http", "receive", '{"from": "\\ud800", "text": "hi"}'),
    ("twilio-unsigned", "receive", '{"MessageSid": "SM1", "From": "+12025550123", "Body": "\\ud800"}'),
    ("twilio-unsigned", "status", '{"MessageSid": "\\ud800", "MessageStatus": "delivered"}'),
    ("http", "receive", '{"from": "+12025550123", "text": "hi", "n": NaN}'),
    ("twilio-unsigned", "status", '{"MessageSid": "SM1", "MessageStatus": "delivered", "x": 1e999}'),
])
def test_lone_surrogates_and_non_finite_numbers_in_inbound_json_are_a_400(smsgate_harness, label, action, body):
    harness = hostile.setup_harness(smsgate_harness, next(p for p in PROFILES if p.label == label))
    before = _store(harness)
    response = harness.request("POST", f"/c/{hostile.CHANNEL}/{action}", content=body.encode(),
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["data"][0]["error"], response.text
    assert _store(harness) == before


@pytest.mark.parametrize("body", ['{"id": "1", "to": "+12025550123", "text": "\\ud800"}',
                                  '{"id": "\\ud800", "to": "+12025550123", "text": "hi"}',
                                  '{"id": "1", "to": "+12025550123", "text": "hi", "channel": Infinity}'])
def test_lone_surrogates_and_non_finite_numbers_at_the_bridge_are_a_400(smsgate_harness, body):
    harness = hostile.api_harness(smsgate_harness)
    before = _store(harness)
    response = harness.request("POST", hostile.BRIDGE_PATH, content=body.encode(), headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {hostile.BRIDGE_SECRET}"})
    assert response.status_code == 400 and "JSON" in response.text, response.text
    assert _store(harness) == before


def test_the_bridge_refuses_a_right_secret_next_to_a_wrong_one(smsgate_harness):
    harness = hostile.api_harness(smsgate_harness)
    body = {"id": "1", "to": "+12025550123", "text": "hi"}
    good = {"Authorization": f"Bearer {hostile.BRIDGE_SECRET}"}
    assert harness.request("POST", hostile.BRIDGE_PATH, json=body, headers=good,
                           params={"secret": "guess"}).status_code == 401
    assert harness.request("POST", hostile.BRIDGE_PATH, json=body, headers={"Authorization": "Bearer guess"},
                           params={"secret": hostile.BRIDGE_SECRET}).status_code == 401
    assert harness.messages() == []
    assert harness.request("POST", hostile.BRIDGE_PATH, json=body, headers=good).status_code == 200


# -- unknown channels, forged signatures and replays leave the store unchanged -----------------------------------

FROM = "+12025550123"


def _twilio_harness(smsgate_harness, validate=True):
    profile = next(p for p in PROFILES if p.label == ("twilio-signed" if validate else "twilio-unsigned"))
    return hostile.setup_harness(smsgate_harness, profile)


def _signed_post(harness, path, form, token=hostile.TWILIO_TOKEN, signature=None):
    from smsgate_twilio import compute_signature

    signature = signature or compute_signature(token, hostile.PUBLIC_URL + path, list(form.items()))
    return harness.request("POST", path, data=form, headers={"X-Twilio-Signature": signature})


def _store(harness):
    return hostile.fingerprint(harness)


def _logs(harness):
    return len(harness.logs(limit=100_000))


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
@pytest.mark.parametrize("path", ["/c/nope/receive", "/c/nope/status", "/c/CH/receive", "/c/ch%00/receive",
                                  "/c/nope%2Fx/receive", "/c//receive"])
def test_unknown_channel_is_404_and_stores_nothing(smsgate_harness, path, method):
    harness = hostile.setup_harness(smsgate_harness, HTTP)
    before, logs = _store(harness), _logs(harness)
    response = harness.request(method, path, data={"from": FROM, "text": "hi"} if method != "GET" else None)
    assert response.status_code == 404, response.text
    assert hostile.reason(dict(response.headers), response.content)
    assert _store(harness) == before
    assert _logs(harness) == logs  # not even a channel log: nobody owns the request


RECEIVE = {"MessageSid": "SMforged0001", "AccountSid": hostile.TWILIO_SID, "From": FROM, "To": "+12025550100",
           "Body": "forged"}
STATUS = {"MessageSid": hostile.KNOWN_SID, "MessageStatus": "delivered"}


@pytest.mark.parametrize("action", ["receive", "status"])
@pytest.mark.parametrize("forgery", ["missing", "garbage", "other-token", "tampered-field", "other-url",
                                     "sha256-settings", "bare-url"])
def test_forged_twilio_signature_is_403_and_stores_nothing(smsgate_harness, action, forgery):
    from smsgate_twilio import compute_signature

    harness = _twilio_harness(smsgate_harness)
    path = f"/c/{hostile.CHANNEL}/{action}"
    form = RECEIVE if action == "receive" else STATUS
    url = hostile.PUBLIC_URL + path
    good = compute_signature(hostile.TWILIO_TOKEN, url, list(form.items()))
    headers = {"X-Twilio-Signature": good}
    data = dict(form)
    if forgery == "missing":
        headers = {}
    elif forgery == "garbage":
        headers["X-Twilio-Signature"] = base64.b64encode(b"\x00" * 20).decode()
    elif forgery == "other-token":
        headers["X-Twilio-Signature"] = compute_signature("someone-elses-token", url, list(form.items()))
    elif forgery == "tampered-field":
        data[next(iter(data))] += "0"
    elif forgery == "other-url":
        headers["X-Twilio-Signature"] = compute_signature(hostile.TWILIO_TOKEN, "https://evil.example" + path,
                                                          list(form.items()))
    elif forgery == "sha256-settings":
        headers["X-Twilio-Webhooks-Signature-Settings"] = "algorithm=HMAC_SHA256"
    else:  # a signature of the bare URL, with a form body (the bodySHA256 variant does not apply to forms)
        headers["X-Twilio-Signature"] = compute_signature(hostile.TWILIO_TOKEN, url, [])
    before, logs = _store(harness), _logs(harness)
    response = harness.request("POST", path, data=data, headers=headers)
    assert response.status_code == 403, response.text
    assert "signature" in response.json()["data"][0]["error"]
    assert _store(harness) == before
    assert _logs(harness) == logs + 1  # the refusal is logged, with the token nowhere in it
    assert hostile.TWILIO_TOKEN not in json.dumps(harness.logs(limit=10))
    # the same request properly signed is accepted: the refusal was about the signature alone
    assert _signed_post(harness, path, form).status_code == 200


def test_replayed_twilio_webhooks_are_stored_once(smsgate_harness):
    harness = _twilio_harness(smsgate_harness)
    receive, status = f"/c/{hostile.CHANNEL}/receive", f"/c/{hostile.CHANNEL}/status?id={hostile.KNOWN_ID}"
    first = _signed_post(harness, receive, RECEIVE)
    assert first.status_code == 200
    report = _signed_post(harness, status, STATUS)
    assert report.status_code == 200 and report.json()["data"][0]["applied"] is True
    before = _store(harness)
    for _ in range(3):
        again = _signed_post(harness, receive, RECEIVE)
        assert again.status_code == 200  # Twilio retries anything else: a replay is acknowledged...
        replayed = _signed_post(harness, status, STATUS)
        assert replayed.status_code == 200 and replayed.json()["data"][0]["applied"] is False
    assert _store(harness) == before  # ...and stored nothing new
    stored = [m for m in harness.messages(direction="in") if m.external_ids == [RECEIVE["MessageSid"]]]
    assert len(stored) == 1
    assert [h["status"] for h in harness.message(hostile.KNOWN_ID).history] == ["queued", "wired", "delivered"]


@pytest.mark.parametrize("action", ["sent", "delivered", "failed"])
def test_replayed_http_status_reports_are_stored_once(smsgate_harness, action):
    harness = hostile.setup_harness(smsgate_harness, HTTP)
    path = f"/c/{hostile.CHANNEL}/{action}"
    assert harness.request("POST", path, data={"id": hostile.KNOWN_ID}).status_code == 200
    before = _store(harness)
    for method in ("POST", "GET", "POST"):
        replay = harness.request(method, path, params={"id": hostile.KNOWN_ID} if method == "GET" else None,
                                 data={"id": hostile.KNOWN_ID} if method == "POST" else None)
        assert replay.status_code == 200 and replay.json()["data"][0]["applied"] is False
    assert _store(harness) == before


def test_replayed_kannel_messages_are_stored_once(smsgate_harness):
    profile = next((p for p in PROFILES if p.adapter == "kannel"), None)
    if profile is None:
        pytest.skip("smsgate-kannel is not installed")
    harness = hostile.setup_harness(smsgate_harness, profile)
    query = {"sender": FROM, "id": "kannel-mo-1", "ts": "1700000000", "message": "hello"}
    assert harness.request("GET", f"/c/{hostile.CHANNEL}/receive", params=query).status_code == 200
    before = _store(harness)
    again = harness.request("GET", f"/c/{hostile.CHANNEL}/receive", params=query)
    assert again.status_code == 200 and again.json()["data"][0]["duplicate"] is True
    assert _store(harness) == before


def test_http_receive_has_no_replay_key(smsgate_harness):
    """Documented limit, not a bug: RapidPro's External API sends no message id, so a replay is a new message."""
    harness = hostile.setup_harness(smsgate_harness, HTTP)
    for _ in range(2):
        assert harness.request("POST", f"/c/{hostile.CHANNEL}/receive",
                               data={"from": FROM, "text": "same"}).status_code == 200
    assert [m.text for m in harness.messages(direction="in")] == ["same", "same"]


def _history_rows(harness):
    return harness.store.call_sync(lambda conn: conn.execute("SELECT count(*) FROM status_history").fetchone()[0])


def test_replayed_report_for_an_unknown_message_is_stored_once(smsgate_harness):
    harness = _twilio_harness(smsgate_harness, validate=False)
    orphan = {"MessageSid": "SMnobodyknows01", "MessageStatus": "delivered"}
    assert harness.request("POST", f"/c/{hostile.CHANNEL}/status", data=orphan).status_code == 200
    rows = _history_rows(harness)
    assert harness.request("POST", f"/c/{hostile.CHANNEL}/status", data=orphan).status_code == 200
    assert _history_rows(harness) == rows


# -- bugs the fuzzer found, fixed: their inputs stay as regression tests ---------------------------------------------

DEEP = ("[" * 100_000 + "]" * 100_000).encode()
BIG_INT = ('{"from": ' + "9" * 5000 + "}").encode()
JSON_ROUTES = [("http", "receive"), ("twilio-unsigned", "receive"), ("twilio-unsigned", "status")]


@pytest.mark.parametrize("body", [DEEP, BIG_INT], ids=["deeply-nested", "huge-integer"])
@pytest.mark.parametrize(("label", "action"), JSON_ROUTES, ids=[f"{a}-{b}" for a, b in JSON_ROUTES])
def test_unparsable_json_is_a_400(smsgate_harness, label, action, body):
    harness = hostile.setup_harness(smsgate_harness, next(p for p in PROFILES if p.label == label))
    response = harness.request("POST", f"/c/{hostile.CHANNEL}/{action}", content=body,
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "JSON" in response.json()["data"][0]["error"]


@pytest.mark.parametrize("body", [DEEP, BIG_INT], ids=["deeply-nested", "huge-integer"])
def test_api_unparsable_json_is_a_400(smsgate_harness, body):
    harness = smsgate_harness({"ex": {"adapter": "http", "send_url": "http://aggregator.invalid/send"}},
                              gateway={"api_token": "api-token-for-tests"})
    response = harness.request("POST", "/api/v1/messages", content=body, headers={
        "Content-Type": "application/json", "Authorization": "Bearer api-token-for-tests"})
    assert response.status_code == 400


@pytest.mark.parametrize("count", ["\u00b2", "\u2463", "9" * 5000])
def test_twilio_num_media_that_int_cannot_read_is_a_400(smsgate_harness, count):
    harness = _twilio_harness(smsgate_harness, validate=False)
    response = harness.request("POST", f"/c/{hostile.CHANNEL}/receive", data={**RECEIVE, "NumMedia": count})
    assert response.status_code == 400 and "NumMedia" in response.json()["data"][0]["error"]


@pytest.mark.parametrize("encoding", ["x-unknown", "hex", "rot13"])
def test_xml_in_an_unknown_encoding_is_a_400(smsgate_harness, encoding):
    harness = hostile.setup_harness(smsgate_harness, next(p for p in PROFILES if p.label == "http-xml"))
    body = f'<?xml version="1.0" encoding="{encoding}"?><r><from>{FROM}</from><text>hi</text></r>'.encode()
    response = harness.request("POST", f"/c/{hostile.CHANNEL}/receive", content=body,
                               headers={"Content-Type": "text/xml"})
    assert response.status_code == 400 and "XML" in response.json()["data"][0]["error"]


def test_former_bug_inputs_are_rejected_cleanly(smsgate_harness):
    """The inputs of the bugs the fuzzer found (now fixed) are 4xx answers, not exceptions; none is tolerated."""
    cases = [("twilio-unsigned", DEEP, "application/json"),
             ("twilio-unsigned", urllib.parse.urlencode({**RECEIVE, "NumMedia": "\u00b2"}).encode(), hostile.FORM),
             ("http-xml", b'<?xml version="1.0" encoding="hex"?><r/>', "text/xml")]
    for label, content, ctype in cases:
        profile = next(p for p in PROFILES if p.label == label)
        harness = hostile.setup_harness(smsgate_harness, profile)
        spec = hostile.Spec("POST", f"/c/{hostile.CHANNEL}/receive".encode(), b"",
                            [(b"content-type", ctype.encode())], [content], "former-bug")
        outcome = hostile.check(harness, profile, "receive", spec)
        assert outcome.status == 400, outcome
    assert hostile.KNOWN_BUGS == {}


def test_store_counts_are_read_from_the_database(smsgate_harness):
    """The fingerprint the properties compare is the database's own view (a sanity check of the checker)."""
    harness = hostile.setup_harness(smsgate_harness, HTTP)
    before = hostile.fingerprint(harness)
    harness.request("POST", f"/c/{hostile.CHANNEL}/receive", data={"from": FROM, "text": "counted"})
    after = hostile.fingerprint(harness)
    assert after[0] == before[0] + 1 and after[3] > before[3]  # a message, and its webhook in the outbox
    with sqlite3.connect(harness.config.gateway.database) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == after[0]
