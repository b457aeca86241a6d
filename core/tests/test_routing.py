"""Routes and failover: a message without a channel is routed by its number; a channel that provably did not take
it hands it to the next channel of its route at once, and a send that may have arrived never moves."""

from __future__ import annotations

import collections
import uuid

import httpx
import pytest
from smsgate.errors import MessageInvalid
from smsgate.host import open_worker

from tests.support.toy_adapter import Toy

TO = "+250788383383"


def toy(url: str, **settings):
    return {"adapter": "toy", "country": "RW", "url": url, "max_retry_wait": 0, **settings}


CHANNELS = {"primary": toy("http://primary.test/send", max_attempts=1), "backup": toy("http://backup.test/send")}
ROUTE = [{"to": ["+250"], "channels": ["primary", "backup"]}]


def by_host(**answers):
    """A fake aggregator per host: a response, an exception to raise, or a callable of the request."""

    def respond(request: httpx.Request) -> httpx.Response:
        answer = answers.get(request.url.host, httpx.Response(200, text=f"{request.url.host}-{uuid.uuid4().hex}"))
        if callable(answer) and not isinstance(answer, httpx.Response):
            answer = answer(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return respond


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def hosts(h) -> list[str]:
    return [r.url.host for r in h.requests]


@pytest.fixture
def routed(smsgate_harness):
    def make(respond, channels=None, routes=None, **kwargs):
        return smsgate_harness(channels or CHANNELS, adapters=[Toy], routes=ROUTE if routes is None else routes,
                               respond=respond, **kwargs)

    return make


def test_a_refused_connection_fails_over_to_the_next_channel_at_once(routed):
    h = routed(by_host(**{"primary.test": refused}))
    outcome = h.send(None, TO, "hello")
    stored = h.message(outcome.message.id)
    assert stored.status == "wired" and stored.channel == "backup" and stored.route == ["primary", "backup"]
    assert hosts(h) == ["primary.test", "backup.test"]  # once each: no retry wait on the dead one, one send
    assert [(x["status"], x["channel"]) for x in stored.history] == [
        ("queued", "primary"), ("errored", "primary"), ("wired", "backup")]
    left = stored.history[1]
    assert left["error_code"] == "connection_failed"
    assert "connection refused" in left["error_reason"].lower() and "moved to channel backup" in left["error_reason"]
    assert stored.attempts == 1  # one attempt of the message, carried by two channels
    assert [log["channel"] for log in h.logs(message_id=stored.id)] == ["backup", "primary"]


@pytest.mark.parametrize("answer", [httpx.Response(503), httpx.Response(429, headers={"Retry-After": "0"})],
                         ids=["503", "429"])
def test_an_aggregator_refusing_after_its_retries_fails_over(routed, answer):
    h = routed(by_host(**{"primary.test": answer}), channels={
        "primary": toy("http://primary.test/send", max_attempts=2), "backup": toy("http://backup.test/send")})
    outcome = h.send(None, TO, "hello")
    assert outcome.message.channel == "backup" and outcome.message.status == "wired"
    assert hosts(h) == ["primary.test", "primary.test", "backup.test"]  # the channel's own retries first


def test_a_send_in_doubt_is_never_sent_on_another_channel(routed):
    def timeout(request):
        raise httpx.ReadTimeout("timed out", request=request)

    h = routed(by_host(**{"primary.test": timeout}))
    outcome = h.send(None, TO, "hello")
    stored = h.message(outcome.message.id)
    assert stored.status == "failed" and stored.channel == "primary" and stored.error_code == "read_timeout"
    assert hosts(h) == ["primary.test"]
    assert "backup" not in {x["channel"] for x in stored.history}


def test_an_earlier_try_in_doubt_makes_a_later_refusal_no_proof(routed):
    """With retry_on_timeout the channel's retry may meet a refused connection: the first try may still have
    reached the aggregator, so the message stays on its channel."""
    answers = iter([httpx.ReadTimeout("timed out"), httpx.ConnectError("refused")])

    def primary(request):
        raise next(answers)

    h = routed(by_host(**{"primary.test": primary}), channels={
        "primary": toy("http://primary.test/send", max_attempts=2, retry_on_timeout=True),
        "backup": toy("http://backup.test/send")})
    outcome = h.send(None, TO, "hello")
    assert outcome.message.channel == "primary" and outcome.message.status == "errored"
    assert hosts(h) == ["primary.test", "primary.test"]


def test_a_message_whose_first_part_was_taken_does_not_move(routed, smsgate_harness):
    """The http adapter sends a long text part by part: part 2 refused after part 1 arrived is no proof."""
    answers = iter([httpx.Response(200, text="ok"), httpx.Response(503)])
    channels = {"primary": {"adapter": "http", "country": "RW", "send_url": "http://primary.test/send",
                            "max_length": 10, "max_attempts": 1},
                "backup": {"adapter": "http", "country": "RW", "send_url": "http://backup.test/send"}}
    h = smsgate_harness(channels, routes=ROUTE, respond=by_host(**{"primary.test": lambda r: next(answers)}))
    outcome = h.send(None, TO, "first part, second part")
    assert outcome.message.channel == "primary" and outcome.message.status == "errored"
    assert hosts(h) == ["primary.test", "primary.test"]


def test_a_named_channel_never_fails_over(routed):
    h = routed(by_host(**{"primary.test": refused}))
    outcome = h.send("primary", TO, "hello")
    assert outcome.message.channel == "primary" and outcome.message.status == "errored"
    assert outcome.message.route == [] and hosts(h) == ["primary.test"]


def test_every_channel_refusing_leaves_the_message_errored_on_the_last(routed):
    h = routed(by_host(**{"primary.test": refused, "backup.test": refused}), channels={
        "primary": toy("http://primary.test/send", max_attempts=1),
        "backup": toy("http://backup.test/send", max_attempts=1)})
    outcome = h.send(None, TO, "hello")
    stored = h.message(outcome.message.id)
    assert stored.status == "errored" and stored.channel == "backup"
    assert [(x["status"], x["channel"]) for x in stored.history] == [
        ("queued", "primary"), ("errored", "primary"), ("errored", "backup")]


def test_the_status_report_of_the_channel_that_carried_it_applies(routed):
    h = routed(by_host(**{"primary.test": refused}))
    outcome = h.send(None, TO, "hello")
    message_id, external = outcome.message.id, outcome.message.external_ids[0]
    # the carrier's own report, by its external id and by ours
    assert h.request("POST", "/c/backup/status", data={"status": "sent", "ext": external}).status_code == 200
    assert h.message(message_id).status == "sent"
    # the channel it left knows nothing of it, as for any other channel's message
    answer = h.request("POST", "/c/primary/status", data={"status": "delivered", "id": message_id}).json()
    assert answer["data"][0]["known_message"] is False and h.message(message_id).status == "sent"
    assert h.request("POST", "/c/backup/status", data={"status": "delivered", "id": message_id}).status_code == 200
    assert h.message(message_id).status == "delivered"


def test_the_worker_fails_over_an_api_message(routed):
    h = routed(by_host(**{"primary.test": refused}), gateway={"api_token": "t" * 20})
    answer = h.request("POST", "/api/v1/messages", headers={"Authorization": "Bearer " + "t" * 20},
                       json={"to": "0788383383", "text": "hi"})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["channel"] == "primary" and body["to"] == TO and body["route"] == ["primary", "backup"]
    worker = open_worker(h.gateway, poll_interval=0.05)
    assert h.run(worker.run_once()) == 1
    stored = h.message(body["id"])
    assert stored.status == "wired" and stored.channel == "backup" and hosts(h) == ["primary.test", "backup.test"]
    detail = h.request("GET", f"/api/v1/messages/{body['id']}", headers={"Authorization": "Bearer " + "t" * 20})
    assert detail.json()["channel"] == "backup"
    assert [x["channel"] for x in detail.json()["history"]] == ["primary", "primary", "backup"]


# -- choosing a route ---------------------------------------------------------------------------------------


def test_routes_are_tried_in_order_and_read_local_numbers_with_the_chosen_channels_country(smsgate_harness):
    channels = {"rw": toy("http://rw.test/send"), "ug": toy("http://ug.test/send", country="UG"),
                "any": toy("http://any.test/send", country="US")}
    routes = [{"to": ["+25078"], "channels": ["rw"]}, {"country": ["UG"], "channels": ["ug"]},
              {"channels": ["any"]}]
    h = smsgate_harness(channels, adapters=[Toy], routes=routes)
    router = h.gateway.router
    assert (router.choose("0788383383").channel, router.choose("0788383383").to) == ("rw", TO)
    assert router.choose("+256772123456").channel == "ug"
    local = router.choose("0772123456")
    assert local.channel == "ug" and local.to == "+256772123456"  # the UG channel reads it as Ugandan
    assert router.choose("+12025550123").channel == "any"
    with pytest.raises(MessageInvalid, match="not a possible number"):
        router.choose("MTN")


def test_a_number_no_route_matches_is_a_422_that_says_so(smsgate_harness):
    h = smsgate_harness(CHANNELS, adapters=[Toy], routes=ROUTE, gateway={"api_token": "t" * 20})
    answer = h.request("POST", "/api/v1/messages", headers={"Authorization": "Bearer " + "t" * 20},
                       json={"to": "+12025550123", "text": "hi"})
    assert answer.status_code == 422 and "no route matches +12025550123" in answer.json()["error"]
    assert h.messages() == []


def test_a_channel_whose_link_is_down_is_skipped_and_its_queue_moves(routed):
    h = routed(by_host())
    down = {"primary": "not bound to smsc:2775: connection refused"}
    h.gateway.link_down = down.get
    assert h.gateway.router.choose(TO).channel == "backup"
    # queued on primary while it was up; then its link went down: the worker moves them without an attempt
    down.clear()
    ids = [h.run(h.gateway.enqueue(h.run(h.gateway.prepare(None, TO, f"m{i}"))))[0].id for i in range(3)]
    down["primary"] = "not bound to smsc:2775: connection refused"
    worker = open_worker(h.gateway, poll_interval=0.05)
    assert h.run(worker.run_once()) == 3
    assert hosts(h) == ["backup.test"] * 3
    for message_id in ids:
        stored = h.message(message_id)
        assert stored.status == "wired" and stored.channel == "backup"
        assert stored.history[1]["error_code"] == "link_down" and "not bound" in stored.history[1]["error_reason"]


@pytest.mark.parametrize(("strategy", "weights"), [("round_robin", None), ("weighted", [3, 1, 1])])
def test_a_spreading_route_splits_1000_messages_within_5_percent_of_its_weights(smsgate_harness, strategy, weights):
    channels = {name: toy(f"http://{name}.test/send") for name in ("a", "b", "c")}
    route = {"to": ["+250"], "channels": ["a", "b", "c"], "strategy": strategy}
    if weights:
        route["weights"] = weights
    h = smsgate_harness(channels, adapters=[Toy], routes=[route], gateway={"api_token": "t" * 20})
    for i in range(1000):
        answer = h.request("POST", "/api/v1/messages", headers={"Authorization": "Bearer " + "t" * 20},
                           json={"to": TO, "text": f"m{i}"})
        assert answer.status_code == 202
    counts = collections.Counter(m.channel for m in h.messages(limit=2000))
    shares = weights or [1, 1, 1]
    for name, weight in zip("abc", shares, strict=True):
        expected = 1000 * weight / sum(shares)
        assert abs(counts[name] - expected) <= 0.05 * expected, counts
    assert sum(counts.values()) == 1000


def test_explain_says_which_route_and_channel_and_why(smsgate_harness):
    h = smsgate_harness(CHANNELS, adapters=[Toy], routes=[{"country": ["UG"], "channels": ["backup"]}, *ROUTE])
    h.gateway.link_down = {"primary": "bind lost"}.get
    first, second = h.gateway.router.explain("0788383383")
    assert not first.matches and "+250788383383 is not a number that is in UG" in first.why
    assert second.matches and second.pick == "backup"
    assert second.candidates == [("backup", TO, None), ("primary", TO, "bind lost")]
    assert h.gateway.router.explain("0788383383") == h.gateway.router.explain("0788383383")  # nothing moved


# -- what proves the aggregator did not take a message, on the real transports ----------------------------------


@pytest.fixture
def silent_server():
    """A socket server that reads requests and never answers; `answer` makes it answer with those bytes."""
    import socket
    import threading

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    state = {"answer": None, "conns": []}

    def accept():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            state["conns"].append(conn)
            conn.recv(65536)
            if state["answer"] is not None:
                conn.sendall(state["answer"])
                conn.close()

    threading.Thread(target=accept, daemon=True).start()
    yield sock.getsockname()[1], state
    sock.close()
    for conn in state["conns"]:
        conn.close()


@pytest.mark.parametrize("backend", ["aiohttp", "httpcore"])
def test_only_a_connection_never_made_or_a_refusing_answer_proves_nothing_was_taken(backend, silent_server):
    import asyncio
    import socket

    from smsgate import ChannelLog, ChannelSettings, Redactor
    from smsgate.errors import ConnectionFailed, SentButUnanswered
    from smsgate.http import HttpClient

    port, state = silent_server
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings = ChannelSettings(adapter="x", max_attempts=1, timeout=0.5)

    async def attempt(url):
        client = HttpClient(backend=backend)
        log = ChannelLog("c", "send", Redactor())
        try:
            await client.request(log, settings, "POST", url, content=b"hi")
        except ConnectionFailed as exc:
            return exc, log
        finally:
            await client.aclose()
        raise AssertionError("no error")

    refused, log = asyncio.run(attempt(f"http://127.0.0.1:{closed}/send"))
    assert type(refused) is ConnectionFailed and refused.not_taken and log.untaken and log.requests == 1
    unanswered, log = asyncio.run(attempt(f"http://127.0.0.1:{port}/send"))
    assert isinstance(unanswered, SentButUnanswered) and not unanswered.not_taken and not log.untaken
    state["answer"] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    busy, log = asyncio.run(attempt(f"http://127.0.0.1:{port}/send"))
    assert type(busy) is ConnectionFailed and busy.not_taken and log.untaken


def test_an_smsc_refusing_the_bind_connection_fails_over(smsgate_harness):
    import socket

    from smsgate_smpp import SmppAdapter

    with socket.socket() as probe:  # an SMSC port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    channels = {"smsc": {"adapter": "smpp", "country": "RW", "host": "127.0.0.1", "port": closed,
                         "system_id": "gate", "password": "secret1", "max_attempts": 1, "timeout": 2},
                "backup": toy("http://backup.test/send")}
    h = smsgate_harness(channels, adapters=[Toy, SmppAdapter],
                        routes=[{"to": ["+250"], "channels": ["smsc", "backup"]}])
    outcome = h.send(None, TO, "hello")
    stored = h.message(outcome.message.id)
    assert stored.status == "wired" and stored.channel == "backup" and hosts(h) == ["backup.test"]
    assert stored.history[1]["channel"] == "smsc" and "moved to channel backup" in stored.history[1]["error_reason"]
