"""Tenants: a bearer token of its own, confined to its channels (send, see, route), its own limits and webhooks;
the operator's api_token still sees everything. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from smsgate.config import hash_token
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict, open_outbox

from tests.support.toy_adapter import Toy

OPERATOR = "operator-token-0123456789"
ACME = "acme-token-0123456789abcdef"
GLOBEX = "globex-token-0123456789abcd"
TO = "+250788383383"


def toy(url: str, **settings):
    return {"adapter": "toy", "country": "RW", "url": url, "max_retry_wait": 0, "max_attempts": 1, **settings}


CHANNELS = {"primary": toy("http://primary.test/send"), "backup": toy("http://backup.test/send"),
            "other": toy("http://other.test/send")}
ROUTES = [{"to": ["+250"], "channels": ["primary", "backup"]}]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Hooks:
    """The aggregators and the webhook receivers behind one transport."""

    def __init__(self):
        self.hooks: list[httpx.Request] = []

    def __call__(self, request):
        if request.url.host.startswith("hooks"):
            self.hooks.append(request)
            return httpx.Response(204)
        return httpx.Response(200, text=f"ext-{uuid.uuid4().hex}")


@pytest.fixture
def tenants(smsgate_harness):
    def make(acme=None, **kwargs):
        receiver = Hooks()
        h = smsgate_harness(CHANNELS, adapters=[Toy], routes=ROUTES, respond=receiver, gateway={
            "api_token": OPERATOR, "webhooks": [{"url": "https://hooks.test/operator", "secret": "operator-secret"}]},
            tenants={"acme": {"token": ACME, "channels": ["backup"],
                              "webhooks": [{"url": "https://hooks-acme.test/in", "secret": "acme-webhook-secret"}],
                              **(acme or {})},
                     "globex": {"token_hash": hash_token(GLOBEX), "channels": ["other"]}}, **kwargs)
        return h, receiver

    return make


def post(h, token, **body):
    return h.request("POST", "/api/v1/messages", headers=auth(token), json={"text": "hi", **body})


def test_a_tenant_sends_routes_and_sees_only_within_its_channels(tenants):
    h, _ = tenants()
    refused = post(h, ACME, channel="primary", to=TO)
    assert refused.status_code == 422 and refused.json()["error"] == "unknown channel 'primary' (known: backup)"
    unknown = post(h, ACME, channel="nope", to=TO)
    assert unknown.json()["error"] == refused.json()["error"].replace("'primary'", "'nope'")  # the same answer
    routed = post(h, ACME, to="0788383383")
    assert routed.status_code == 202 and routed.json()["channel"] == "backup"  # the route's only channel it has
    assert routed.json()["tenant"] == "acme" and routed.json()["route"] == []  # nothing else to fail over to
    operator = post(h, OPERATOR, to=TO)
    assert operator.json()["channel"] == "primary" and operator.json()["tenant"] is None
    theirs = post(h, GLOBEX, channel="other", to=TO)  # a token configured by its hash works the same
    assert theirs.status_code == 202
    on_backup = post(h, OPERATOR, channel="backup", to=TO)  # the operator's message on acme's channel
    no_route = post(h, GLOBEX, to=TO)
    assert no_route.status_code == 422 and "among this tenant's channels" in no_route.json()["error"]

    listing = h.request("GET", "/api/v1/messages", headers=auth(ACME)).json()
    assert {m["id"] for m in listing["messages"]} == {routed.json()["id"], on_backup.json()["id"]}
    assert h.request("GET", "/api/v1/messages?channel=primary", headers=auth(ACME)).json()["messages"] == []
    everything = h.request("GET", "/api/v1/messages", headers=auth(OPERATOR)).json()
    assert len(everything["messages"]) == 4

    mine = h.request("GET", f"/api/v1/messages/{routed.json()['id']}", headers=auth(ACME))
    assert mine.status_code == 200 and mine.json()["history"][0]["channel"] == "backup"
    foreign = h.request("GET", f"/api/v1/messages/{theirs.json()['id']}", headers=auth(ACME))
    missing_id = str(uuid.uuid4())
    missing = h.request("GET", f"/api/v1/messages/{missing_id}", headers=auth(ACME))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"].replace(theirs.json()["id"], missing_id) == missing.json()["error"]
    assert h.request("GET", f"/api/v1/messages/{theirs.json()['id']}", headers=auth(OPERATOR)).status_code == 200
    again = h.request("POST", f"/api/v1/messages/{theirs.json()['id']}/resend", headers=auth(ACME))
    assert again.status_code == 404
    reused = post(h, ACME, id=theirs.json()["id"], to=TO)  # another tenant's id is never shown
    assert reused.status_code == 409 and "text" not in reused.json()
    assert h.request("GET", "/api/v1/messages", headers=auth("not-a-known-token-000")).status_code == 401


def test_a_tenant_without_an_operator_token_still_has_the_api(smsgate_harness):
    h = smsgate_harness(CHANNELS, adapters=[Toy], tenants={"acme": {"token": ACME, "channels": ["backup"]}})
    assert post(h, ACME, channel="backup", to=TO).status_code == 202
    assert h.request("GET", "/api/v1/messages", headers=auth(OPERATOR)).status_code == 401


def test_a_tenants_daily_limit_answers_429_with_retry_after(tenants):
    h, _ = tenants(acme={"daily_limit": 3})
    answers = [post(h, ACME, to=TO) for _ in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    assert "daily_limit of 3" in answers[3].json()["error"]
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 86400
    known = answers[0].json()["id"]
    assert post(h, ACME, id=known, to=TO).status_code == 200  # a retried request is not a new message
    assert post(h, OPERATOR, to=TO).status_code == 202  # the operator has no limit
    assert post(h, GLOBEX, channel="other", to=TO).status_code == 202  # nor does another tenant
    assert len(h.messages(limit=50)) == 5


def test_a_tenants_tps_answers_429_once_its_burst_is_spent(tenants):
    h, _ = tenants(acme={"tps": 2})
    codes = [post(h, ACME, to=TO).status_code for _ in range(4)]
    assert codes[:2] == [202, 202] and 429 in codes[2:]
    refused = next(a for a in (post(h, ACME, to=TO) for _ in range(3)) if a.status_code == 429)
    assert refused.headers["Retry-After"] == "1" and "2 message(s) per second" in refused.json()["error"]


def test_a_tenants_webhooks_hear_its_channels_and_every_payload_names_the_tenant(tenants):
    h, receiver = tenants()
    sent = post(h, ACME, to=TO).json()
    post(h, GLOBEX, channel="other", to=TO)
    h.request("POST", "/c/backup/receive", data={"from": "0788123123", "text": "reply", "id": "mo-1"})
    h.run(open_outbox(h.gateway, retry_base=0).drain())
    acme = [json.loads(r.content) for r in receiver.hooks if r.url.host == "hooks-acme.test"]
    operator = [json.loads(r.content) for r in receiver.hooks if r.url.host == "hooks.test"]
    assert [(e["type"], e["data"]["tenant"]) for e in acme] == [
        ("message.status_changed", "acme"), ("message.received", "acme")]
    assert acme[0]["data"]["id"] == sent["id"]
    assert len(operator) == 3 and {e["data"]["tenant"] for e in operator} == {"acme", "globex"}
    # each is signed with its own secret
    from standardwebhooks.webhooks import Webhook

    request = next(r for r in receiver.hooks if r.url.host == "hooks-acme.test")
    Webhook(b"acme-webhook-secret").verify(request.content, dict(request.headers))


def test_the_metrics_count_each_tenants_messages(tenants):
    h, _ = tenants(acme={"daily_limit": 1})
    post(h, ACME, to=TO)
    post(h, ACME, to=TO)
    post(h, ACME, channel="primary", to=TO)
    text = h.request("GET", "/metrics", headers=auth(OPERATOR)).text
    samples = {(s.labels["tenant"], s.labels["outcome"]): s.value for family in text_string_to_metric_families(text)
               if family.name == "smsgate_tenant_messages" for s in family.samples if s.name.endswith("_total")}
    assert samples[("acme", "accepted")] == samples[("acme", "limited")] == samples[("acme", "refused")] == 1
    assert samples[("globex", "accepted")] == 0
    assert h.request("GET", "/metrics", headers=auth(ACME)).status_code == 401  # the operator's


@pytest.mark.parametrize(("tenants", "fragment"), [
    ({"acme": {"channels": ["backup"]}}, "tenants.acme.token: give exactly one of token and token_hash"),
    ({"acme": {"token": ACME, "token_hash": hash_token(ACME), "channels": ["backup"]}}, "tenants.acme.token: give"),
    ({"acme": {"token": "short", "channels": ["backup"]}}, "tenants.acme.token: Value error, must be at least 16"),
    ({"acme": {"token": ACME, "channels": ["nope"]}}, "tenants.acme.channels[0]: unknown channel 'nope'"),
    ({"acme": {"token": ACME, "channels": []}}, "tenants.acme.channels: List should have at least 1 item"),
    ({"acme": {"token_hash": "sha256:abc", "channels": ["backup"]}}, "tenants.acme.token_hash: Value error, must be"),
    ({"acme": {"token": OPERATOR, "channels": ["backup"]}}, "tenants.acme.token: the same token as [gateway] api"),
    ({"a": {"token": ACME, "channels": ["backup"]}, "b": {"token_hash": hash_token(ACME), "channels": ["backup"]}},
     "tenants.b.token_hash: the same token as tenant a"),
    ({"acme": {"token": ACME, "channels": ["backup"], "daily_limit": 0}}, "tenants.acme.daily_limit: Input should"),
    ({"acme": {"token": ACME, "channels": ["backup"], "webhooks": [{"url": "ftp://x"}]}},
     "tenants.acme.webhooks[0]"),
    ({"ac me": {"token": ACME, "channels": ["backup"]}}, "tenants.ac me: a tenant's name is"),
])
def test_bad_tenants_name_the_file_table_and_field(tenants, fragment):
    channels = {"backup": {"adapter": "toy", "country": "RW"}}
    with pytest.raises(ConfigError) as info:
        config_from_dict({"gateway": {"api_token": OPERATOR}, "channels": channels, "tenants": tenants},
                         {"toy": Toy}, file="smsgate.toml")
    assert str(info.value).startswith("smsgate.toml: ") and fragment in str(info.value), str(info.value)


@pytest.mark.parametrize(("routes", "fragment"), [
    ([{"to": ["250"], "channels": ["a"]}], "routes[0].to: Value error, '250' is not an E.164 prefix"),
    ([{"country": ["XX"], "channels": ["a"]}], "routes[0].country: Value error, 'XX' is not an ISO 3166"),
    ([{"channels": ["a", "b", "a"]}], "routes[0].channels: Value error, names a channel twice"),
    ([{"channels": []}], "routes[0].channels: List should have at least 1 item"),
    ([{"channels": ["a"]}, {"channels": ["a", "x"]}], "routes[1].channels[1]: unknown channel 'x' (known: a, b)"),
    ([{"channels": ["a", "b"], "strategy": "weighted"}], 'routes[0].weights: strategy "weighted" needs weights'),
    ([{"channels": ["a", "b"], "strategy": "weighted", "weights": [1]}], "routes[0].weights: 1 weight(s) for 2"),
    ([{"channels": ["a", "b"], "weights": [1, 2]}], 'routes[0].weights: weights apply only to strategy'),
    ([{"channels": ["a"], "strategy": "random"}], "routes[0].strategy: Input should be"),
    ([{"channels": ["a"], "via": "x"}], "routes[0].via: Extra inputs are not permitted"),
])
def test_bad_routes_name_the_file_table_and_field(routes, fragment):
    channels = {"a": {"adapter": "toy", "country": "RW"}, "b": {"adapter": "toy"}}
    with pytest.raises(ConfigError) as info:
        config_from_dict({"channels": channels, "routes": routes}, {"toy": Toy}, file="smsgate.toml")
    assert str(info.value).startswith("smsgate.toml: ") and fragment in str(info.value), str(info.value)


def test_every_tenant_secret_is_a_secret_of_the_config():
    config = config_from_dict({"channels": {"b": {"adapter": "toy"}}, "tenants": {
        "acme": {"token": ACME, "channels": ["b"], "webhooks": [{"url": "https://h.test/", "secret": "hook-secret"}]},
        "globex": {"token_hash": hash_token(GLOBEX), "channels": ["b"]}}}, {"toy": Toy})
    assert {ACME, "hook-secret", hash_token(GLOBEX)} <= set(config.secrets())
