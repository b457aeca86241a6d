"""The RapidPro bridge: the seed's request shapes, auth, idempotency, the calls back, and two smsgate roles end to end.

The seed is RapidPro's External API description (Spanish): RapidPro POSTs each outgoing message as
{"id", "text", "to", "to_no_plus", "from", "from_no_plus", "channel"} to the service, and the service POSTs
incoming messages to <channel URL>/receive (from, text, date ISO-8601) and reports .../sent, .../delivered,
.../failed?id=.
"""

import asyncio
import urllib.parse
from datetime import UTC, datetime

import httpx
import pytest
from smsgate import IncomingMessage
from smsgate.errors import ConfigError
from smsgate.host import Platform, config_from_dict, create_app, open_gateway, open_outbox, open_worker
from smsgate.store import SQLiteStore
from smsgate.testing import Harness

from tests.support.toy_adapter import Toy

SECRET = "s3cret-bridge-token"
RECEIVE = "https://rapidpro.ilhasoft.mobi/c/ex/a86f686f-9168-4dd9-a03e-77f11b265b56"  # the seed's channel URL
# The seed's outgoing example, verbatim: its translation renamed "text"/"to" to "texto"/"para".
SEED_SEND = {"id": 1241244, "texto": "El amor es paciente. El amor es amable.", "para": "+250788123123",
             "to_no_plus": "250788123123", "from": "+5582999489287", "from_no_plus": "5582999489287", "channel": 346}
# What RapidPro's External API channel really sends (English field names, as in RapidPro's own docs).
RAPIDPRO_SEND = {"id": "2b2ab2a0-3cda-4f4e-9c3c-7b8f4a1f0d55", "text": "Love is patient. Love is kind.",
                 "to": "+250788123123", "to_no_plus": "250788123123", "from": "+5582999489287",
                 "from_no_plus": "5582999489287", "channel": "c4e0b1f5-8f3e-4c49-9a56-2b9d2f1e7a10"}
AUTH = {"Authorization": f"Bearer {SECRET}"}


def make_config(tmp_path, channels, bridges, adapters, **gateway):
    return config_from_dict({"gateway": {"database": str(tmp_path / "smsgate.sqlite3"),
                                         "public_url": "https://gateway.example", **gateway},
                             "channels": channels, "bridges": bridges}, adapters)


class Peers:
    """The aggregator (answers 200 with an id) and RapidPro (records every call) behind one transport."""

    def __init__(self):
        self.aggregator, self.rapidpro = [], []
        self.rapidpro_answers = []

    def __call__(self, request):
        if request.url.host == "rapidpro.ilhasoft.mobi":
            self.rapidpro.append(request)
            return self.rapidpro_answers.pop(0) if self.rapidpro_answers else httpx.Response(200)
        self.aggregator.append(request)
        return httpx.Response(200, text=f"ext-{len(self.aggregator)}")

    def calls(self):
        """RapidPro's calls as (action, query, form)."""
        return [(r.url.path.rsplit("/", 1)[1], dict(r.url.params),
                 dict(urllib.parse.parse_qsl(r.content.decode()))) for r in self.rapidpro]


@pytest.fixture
def bridge(tmp_path):
    """A gateway with toy channel `agg` bridged to RapidPro as `rp`; yields (harness, peers, dispatcher)."""
    peers = Peers()
    config = make_config(tmp_path, {"agg": {"adapter": "toy", "country": "RW", "max_retry_wait": 0,
                                            "max_attempts": 1, "address": "2020"}},
                         {"rp": {"platform": "rapidpro", "channel": "agg", "receive_url": RECEIVE + "/",
                                 "secret": SECRET}}, {"toy": Toy})
    h = Harness(config, respond=peers)
    yield h, peers, open_outbox(h.gateway, retry_base=0)
    h.close()


def our_id(h, platform_id):
    """smsgate's id for a RapidPro message: keyed by the bridge secret, so nobody else can derive it."""
    return h.app.state.platform.bridges["rp"].message_id(str(platform_id))


def send(h, body=None, *, json=None, data=None, headers=AUTH, params=None):
    return h.request("POST", "/b/rp/send", json=json if json is not None else body, data=data, headers=headers,
                     params=params)


def test_the_seeds_example_is_queued_under_a_stable_uuid(bridge):
    h, peers, _ = bridge
    response = send(h, SEED_SEND)
    assert response.status_code == 200, response.text
    expected = our_id(h, 1241244)  # an integer id maps to a fixed UUID
    assert response.json() == {"id": expected, "status": "queued", "rapidpro_id": "1241244", "duplicate": False}
    stored = h.message(expected)
    assert (stored.channel, stored.to, stored.text, stored.from_) == (
        "agg", "+250788123123", "El amor es paciente. El amor es amable.", "2020")
    assert stored.metadata == {"rapidpro": {"bridge": "rp", "id": "1241244", "from": "+5582999489287",
                                            "channel": "346"}}
    assert peers.aggregator == []  # queued only: the worker sends


@pytest.mark.parametrize("kind", ["json", "form", "query"])
def test_rapidpros_request_as_json_form_or_query_is_queued_under_a_derived_uuid(bridge, kind):
    h, _, _ = bridge
    if kind == "json":
        response = send(h, RAPIDPRO_SEND)
    elif kind == "form":
        response = send(h, data=RAPIDPRO_SEND)
    else:
        response = h.request("GET", "/b/rp/send", params={**RAPIDPRO_SEND, "secret": SECRET})
    assert response.status_code == 200, response.text
    # RapidPro's UUIDs are visible in its UI: smsgate's id is derived from it with the bridge secret
    assert response.json()["id"] == our_id(h, RAPIDPRO_SEND["id"]) != RAPIDPRO_SEND["id"]
    assert response.json()["rapidpro_id"] == RAPIDPRO_SEND["id"]
    assert h.message(our_id(h, RAPIDPRO_SEND["id"])).text == "Love is patient. Love is kind."


def test_to_no_plus_alone_is_enough(bridge):
    h, _, _ = bridge
    body = {k: v for k, v in RAPIDPRO_SEND.items() if k != "to"}
    assert send(h, body).status_code == 200
    assert h.message(our_id(h, RAPIDPRO_SEND["id"])).to == "+250788123123"


@pytest.mark.parametrize(("headers", "params", "status"), [
    ({}, None, 401),
    ({"Authorization": "Bearer nope-nope-nope"}, None, 401),
    ({"Authorization": f"Basic {SECRET}"}, None, 401),
    ({}, {"secret": "nope"}, 401),
    ({"Authorization": f"Bearer {SECRET}"}, None, 200),
    ({"Authorization": f"Token {SECRET}"}, None, 200),
    ({"Authorization": SECRET}, None, 200),
    ({}, {"secret": SECRET}, 200),
])
def test_the_bridge_secret(bridge, headers, params, status):
    h, _, _ = bridge
    response = send(h, RAPIDPRO_SEND, headers=headers, params=params)
    assert response.status_code == status, response.text
    if status == 401:
        assert "secret" in response.text and h.messages() == []


@pytest.mark.parametrize(("body", "fragment"), [
    ({"text": "hi", "to": "+250788123123"}, "field 'id' required"),
    ({"id": "1", "text": "hi"}, "field 'to' required"),
    ({"id": "1", "text": "hi", "to": "MTN"}, "not a possible number"),
    ({"id": "1", "text": "", "to": "+250788123123"}, "nothing to send"),
])
def test_bad_requests_are_400_with_the_reason(bridge, body, fragment):
    h, _, _ = bridge
    response = send(h, body)
    assert response.status_code == 400 and fragment in response.text and h.messages() == []


def test_bad_json_and_unknown_bridge(bridge):
    h, _, _ = bridge
    bad = h.request("POST", "/b/rp/send", content=b"{nope", headers={**AUTH, "Content-Type": "application/json"})
    assert bad.status_code == 400 and "not valid JSON" in bad.text
    assert h.request("POST", "/b/other/send", json=RAPIDPRO_SEND).status_code == 404


def test_a_retried_post_queues_once_and_a_new_part_is_kept(bridge):
    h, peers, _ = bridge
    assert send(h, RAPIDPRO_SEND).json()["duplicate"] is False
    again = send(h, RAPIDPRO_SEND).json()
    assert again["duplicate"] is True and again["id"] == our_id(h, RAPIDPRO_SEND["id"])
    part = send(h, {**RAPIDPRO_SEND, "text": "second part"}).json()  # RapidPro splits long texts, same id
    assert part["id"] != our_id(h, RAPIDPRO_SEND["id"]) and part["duplicate"] is False
    assert send(h, {**RAPIDPRO_SEND, "text": "second part"}).json()["duplicate"] is True
    h.run(open_worker(h.gateway).drain())
    assert sorted(r.url.params["text"] for r in peers.aggregator) == ["Love is patient. Love is kind.",
                                                                      "second part"]


def test_statuses_go_back_with_rapidpros_own_id(bridge):
    h, peers, outbox = bridge
    rp_message = our_id(h, 1241244)
    send(h, SEED_SEND)
    send(h, RAPIDPRO_SEND)
    h.run(open_worker(h.gateway).drain())
    h.request("POST", "/c/agg/status", data={"id": rp_message, "status": "sent"})  # already reported as wired
    h.request("POST", "/c/agg/status", data={"id": rp_message, "status": "delivered"})
    h.request("POST", "/c/agg/status", data={"id": our_id(h, RAPIDPRO_SEND["id"]), "status": "failed"})
    h.run(outbox.drain())
    calls = peers.calls()
    assert all(r.method == "POST" and str(r.url).startswith(RECEIVE + "/") for r in peers.rapidpro)
    assert [(a, q) for a, q, _ in calls if q.get("id") == "1241244"] == [
        ("sent", {"id": "1241244"}), ("delivered", {"id": "1241244"})]
    assert [a for a, q, _ in calls if q.get("id") == RAPIDPRO_SEND["id"]] == ["sent", "failed"]
    assert len(calls) == 4


def test_incoming_messages_and_opt_outs_go_to_rapidpro_as_the_seed_shows(bridge):
    h, peers, outbox = bridge
    received = datetime(2012, 4, 23, 18, 25, 43, 511000, tzinfo=UTC)
    h.run(h.store.record_inbound("agg", [IncomingMessage("agg", "+250788123123",
                                                         "El amor es paciente. El amor es amable.",
                                                         received_at=received)], None))
    h.request("POST", "/c/agg/stopped", data={"from": "+250788123123"})
    h.run(outbox.drain())
    receive = next(r for r in peers.rapidpro if r.url.path.endswith("/receive"))
    assert str(receive.url) == RECEIVE + "/receive"
    assert receive.headers["content-type"] == "application/x-www-form-urlencoded"
    # the seed: from=%2B250788123123&text=El+amor+es+paciente.+El+amor+es+amable.&date=2012-04-23T18:25:43.511Z
    seed_body = "from=%2B250788123123&text=El+amor+es+paciente.+El+amor+es+amable.&date=2012-04-23T18:25:43.511Z"
    assert urllib.parse.parse_qs(receive.content.decode()) == urllib.parse.parse_qs(seed_body)
    assert ("stopped", {}, {"from": "+250788123123"}) in peers.calls()


def test_other_channels_and_api_messages_are_not_reported(tmp_path):
    peers = Peers()
    config = make_config(tmp_path, {"agg": {"adapter": "toy", "country": "RW"},
                                    "other": {"adapter": "toy", "country": "RW"}},
                         {"rp": {"platform": "rapidpro", "channel": "agg", "receive_url": RECEIVE,
                                 "secret": SECRET}}, {"toy": Toy})
    h = Harness(config, respond=peers)
    try:
        h.send("agg", "+250788123123", "not from RapidPro")
        h.request("POST", "/c/other/receive", data={"from": "+250788123123", "text": "elsewhere"})
        h.run(open_outbox(h.gateway).drain())
        assert peers.rapidpro == []
    finally:
        h.close()


def test_rapidpro_down_is_retried_in_order(bridge):
    h, peers, outbox = bridge
    peers.rapidpro_answers = [httpx.Response(502), httpx.Response(502)]
    send(h, RAPIDPRO_SEND)
    h.run(open_worker(h.gateway).drain())
    h.request("POST", "/c/agg/status", data={"id": our_id(h, RAPIDPRO_SEND["id"]), "status": "delivered"})
    h.run(outbox.drain())
    assert [a for a, _, _ in peers.calls()] == ["sent", "sent", "sent", "delivered"]


@pytest.mark.parametrize(("bridge_cfg", "fragments"), [
    ({"platform": "rapidpro", "channel": "nope", "receive_url": RECEIVE, "secret": SECRET},
     ["cfg.toml", "bridges.rp.channel", "unknown channel 'nope'", "agg"]),
    ({"platform": "textit", "channel": "agg", "receive_url": RECEIVE, "secret": SECRET},
     ["bridges.rp.platform", "rapidpro"]),
    ({"platform": "rapidpro", "channel": "agg", "secret": SECRET}, ["bridges.rp.receive_url", "Field required"]),
    ({"platform": "rapidpro", "channel": "agg", "receive_url": "rapidpro/c/ex", "secret": SECRET},
     ["bridges.rp.receive_url", "http://"]),
    ({"platform": "rapidpro", "channel": "agg", "receive_url": RECEIVE, "secret": "short"},
     ["bridges.rp.secret", "at least 8"]),
    ({"platform": "rapidpro", "channel": "agg", "receive_url": RECEIVE}, ["bridges.rp.secret", "Field required"]),
    ({"platform": "rapidpro", "channel": "agg", "receive_url": RECEIVE, "secret": SECRET, "x": 1}, ["bridges.rp.x"]),
    ({"platform": "rapidpro", "receive_url": RECEIVE, "secret": SECRET},
     ["bridges.rp.channel", "give exactly one of channel (one channel) and channels"]),
    ({"platform": "rapidpro", "channel": "agg", "channels": ["agg"], "receive_url": RECEIVE, "secret": SECRET},
     ["bridges.rp.channel", "give exactly one of"]),
    ({"platform": "rapidpro", "channels": ["agg"], "receive_url": RECEIVE, "secret": SECRET},
     ["bridges.rp.channels", "no [[routes]]"]),
])
def test_bad_bridge_config_names_file_table_and_field(bridge_cfg, fragments):
    with pytest.raises(ConfigError) as info:
        config_from_dict({"channels": {"agg": {"adapter": "toy"}}, "bridges": {"rp": bridge_cfg}}, {"toy": Toy},
                         file="cfg.toml")
    for fragment in fragments:
        assert fragment in str(info.value)
    assert SECRET not in str(info.value)


def test_bridge_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("SMSGATE_BRIDGES__RP__SECRET", "from-the-environment")
    config = config_from_dict({"channels": {"agg": {"adapter": "toy"}},
                               "bridges": {"rp": {"platform": "rapidpro", "channel": "agg", "receive_url": RECEIVE,
                                                  "secret": "from-the-file"}}}, {"toy": Toy})
    assert config.bridges["rp"].secret.get_secret_value() == "from-the-environment"


# -- two smsgate roles end to end ---------------------------------------------------------------------------


class Router(httpx.AsyncBaseTransport):
    """Sends each request to the transport of its host: the other gateway's ASGI app, or the aggregator."""

    def __init__(self, routes):
        self.routes = routes

    async def handle_async_request(self, request):
        return await self.routes[request.url.host].handle_async_request(request)


def test_end_to_end_rapidpro_stand_in_bridge_and_aggregator(tmp_path):
    """B is an `http` channel speaking RapidPro's External API; A bridges it to an aggregator channel."""
    from smsgate_http import HttpAdapter

    adapters = {"toy": Toy, "http": HttpAdapter}
    aggregator = []

    def aggregator_answer(request):
        aggregator.append(request)
        return httpx.Response(200, text=f"agg-{len(aggregator)}")

    to_a, to_b = Router({}), Router({})
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    config_a = make_config(tmp_path / "a", {"agg": {"adapter": "toy", "country": "RW", "address": "2020",
                                                    "url": "http://aggregator.test/send"}},
                           {"rp": {"platform": "rapidpro", "channel": "agg", "receive_url": "http://rapidpro.test/c/ex",
                                   "secret": SECRET}}, adapters)
    config_b = make_config(tmp_path / "b", {"ex": {
        "adapter": "http", "country": "RW", "address": "+250788000001", "content_type": "json",
        "send_url": f"http://bridge.test/b/rp/send?secret={SECRET}"}}, {}, adapters,
        public_url="http://rapidpro.test")

    async def scenario():
        a = open_gateway(config_a, store=SQLiteStore(config_a.gateway.database), transport=to_a)
        b = open_gateway(config_b, store=SQLiteStore(config_b.gateway.database), transport=to_b)
        to_a.routes.update({"rapidpro.test": httpx.ASGITransport(app=create_app(b)),
                            "aggregator.test": httpx.MockTransport(aggregator_answer)})
        to_b.routes["bridge.test"] = httpx.ASGITransport(app=create_app(a))
        worker, outbox = open_worker(a), open_outbox(a, retry_base=0)
        try:
            # RapidPro (B) sends: its http channel POSTs the External API JSON to the bridge, which queues it
            message = await b.prepare("ex", "0788123123", "Hello from RapidPro")
            sent = await b.send(message)
            assert sent.message.status == "wired", sent.message.error_reason
            await worker.drain()  # A wires it to the aggregator
            assert [r.url.params["text"] for r in aggregator] == ["Hello from RapidPro"]
            # A's id for it is derived from RapidPro's with the bridge secret; RapidPro keeps its own
            ours = Platform(a.config).bridges["rp"].message_id(message.id)
            assert (await a.store.get_message(ours)).status == "wired"
            await outbox.drain()  # A tells B: sent
            assert (await b.store.get_message(message.id)).status == "sent"
            # the aggregator's delivery report reaches A, and through the bridge, B
            await a.handle_inbound("agg", "status", _form_request({"ext": "agg-1", "status": "delivered"}))
            await outbox.drain()
            assert (await b.store.get_message(message.id)).status == "delivered"
            # a reply from the handset: aggregator → A → B's receive route
            await a.handle_inbound("agg", "receive", _form_request({"from": "0788123123", "text": "Thanks!"}))
            await a.handle_inbound("agg", "stopped", _form_request({"from": "0788123123"}))
            await outbox.drain()
            (incoming,) = await b.store.list_messages(direction="in")
            assert (incoming.channel, incoming.from_, incoming.text) == ("ex", "+250788123123", "Thanks!")
            assert [o["address"] for o in await b.store.opt_outs()] == ["+250788123123"]
            assert await a.store.outbox_items(pending=True) == []
        finally:
            await a.close()
            await b.close()

    asyncio.run(scenario())


def _form_request(params):
    from smsgate import InboundRequest

    body = urllib.parse.urlencode(params).encode()
    return InboundRequest(method="POST", url="http://bridge.test/c/agg/x", query=[], body=body,
                          headers={"content-type": "application/x-www-form-urlencoded"},
                          form=list(params.items()))


def test_a_bridge_without_a_channel_routes_by_number_among_its_channels_and_fails_over(tmp_path):
    peers = Peers()

    def aggregators(request):
        if request.url.host == "dead.test":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return peers(request)

    channels = {name: {"adapter": "toy", "country": "RW", "max_retry_wait": 0, "max_attempts": 1,
                       "url": f"http://{name}.test/send"} for name in ("dead", "live", "elsewhere")}
    config = config_from_dict({
        "gateway": {"database": str(tmp_path / "smsgate.sqlite3"), "public_url": "https://gateway.example"},
        "channels": channels, "routes": [{"to": ["+250"], "channels": ["elsewhere", "dead", "live"]}],
        "bridges": {"rp": {"platform": "rapidpro", "channels": ["dead", "live"], "receive_url": RECEIVE,
                           "secret": SECRET}}}, {"toy": Toy})
    h = Harness(config, respond=aggregators)
    try:
        answer = send(h, RAPIDPRO_SEND)
        assert answer.status_code == 200, answer.text
        message_id = answer.json()["id"]
        assert h.message(message_id).channel == "dead"  # `elsewhere` is not the bridge's
        h.run(open_worker(h.gateway).drain())
        stored = h.message(message_id)
        assert stored.status == "wired" and stored.channel == "live"
        assert [r.url.host for r in peers.aggregator] == ["live.test"]
        h.request("POST", "/c/live/receive", data={"from": "+250788123123", "text": "thanks"})
        h.request("POST", "/c/elsewhere/receive", data={"from": "+250788123123", "text": "not for rapidpro"})
        h.run(open_outbox(h.gateway, retry_base=0).drain())
        calls = peers.calls()
        assert [(a, q) for a, q, _ in calls if a == "sent"] == [("sent", {"id": RAPIDPRO_SEND["id"]})]
        assert [f["text"] for a, _, f in calls if a == "receive"] == ["thanks"]
        far = send(h, {**RAPIDPRO_SEND, "id": "x-2", "to": "+12025550123"})
        assert far.status_code == 400 and "no route matches +12025550123" in far.json()["data"][0]["error"]
    finally:
        h.close()
