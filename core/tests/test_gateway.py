import asyncio

import httpx
import pytest
import smsgate
from smsgate import OutgoingMessage, hookimpl
from smsgate.host import READ_TIMEOUT_REASON
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.support.toy_adapter import Toy

ID = "6b1d6c8e-2f0b-4d59-9f9b-1c2d3e4f5a6b"


def test_send_normalises_stores_and_logs_redacted(toy):
    h = toy()
    outcome = h.send("t", "0788383383", "hello", id=ID)
    assert outcome.message.status == "wired" and outcome.message.to == "+250788383383"
    assert outcome.message.external_ids == ["ext-1"]
    assert h.requests[0].url.params["password"] == "hunter2-toy"
    log = h.logs(message_id=ID)[0]
    assert "hunter2-toy" not in str(log) and "password=**********" in log["traces"][0]["url"]
    assert [s["status"] for s in h.message(ID).history] == ["queued", "wired"]


class Echoing(Toy):
    """A toy whose failure reports quote the aggregator's text, as Infobip's `error.description` does."""

    name = "echoing"

    @smsgate.route("failed", "POST")
    async def failed(self, req):
        return [smsgate.StatusUpdate(self.channel.name, smsgate.Status.FAILED, message_id=req.params["id"],
                                     error_code=req.params["code"], error_reason=req.params["why"])]


def test_a_report_s_error_is_masked_as_its_raw_data_is(smsgate_harness):
    h = smsgate_harness({"e": {"adapter": "echoing", "country": "RW"}}, adapters=[Echoing],
                        respond=lambda r: httpx.Response(200, text="ext-1"))
    h.send("e", "+250788383383", "hello", id=ID)
    answer = h.request("POST", "/c/e/failed", data={"id": ID, "code": "hunter2-toy", "why": "bad key hunter2-toy"})
    assert answer.status_code == 200 and "hunter2-toy" not in answer.text
    report = h.message(ID).history[-1]
    assert (report["status"], report["error_code"], report["error_reason"]) == (
        "failed", "**********", "bad key **********")


def test_same_id_twice_sends_once(toy):
    h = toy()
    first = h.send("t", "+250788383383", "hello", id=ID)
    second = h.send("t", "+250788383383", "hello", id=ID)
    assert first.sent and not second.sent and len(h.requests) == 1
    assert second.message.status == "wired"


@pytest.mark.parametrize(("code", "status", "attempts", "error"), [
    (500, "errored", 3, "500"),
    (429, "errored", 3, "429"),
    (401, "failed", 1, "401"),
    (404, "failed", 1, "404"),
])
def test_error_classes_and_retries(toy, code, status, attempts, error):
    h = toy(respond=lambda r: httpx.Response(code, text="nope"))
    outcome = h.send("t", "+250788383383", "hello", id=ID)
    assert outcome.message.status == status
    assert outcome.message.error_code == error
    assert len(h.requests) == attempts


def test_retry_then_success(toy):
    answers = iter([httpx.Response(503), httpx.Response(429, headers={"Retry-After": "0"}),
                    httpx.Response(200, text="ok-3")])
    h = toy(respond=lambda r: next(answers))
    outcome = h.send("t", "+250788383383", "hello", id=ID)
    assert outcome.message.status == "wired" and outcome.message.external_ids == ["ok-3"]
    assert len(h.requests) == 3
    assert len(h.logs(message_id=ID)[0]["traces"]) == 3


def test_read_timeout_is_not_retried_unless_configured(toy):
    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    h = toy(respond=timeout)
    outcome = h.send("t", "+250788383383", "hello", id=ID)
    # final at once: the aggregator may have it, so no worker (and no `smsgate send` retry) may send it again
    assert outcome.message.status == "failed" and outcome.message.error_code == "read_timeout"
    assert outcome.message.error_reason == READ_TIMEOUT_REASON
    assert len(h.requests) == 1
    h2 = toy(respond=timeout, retry_on_timeout=True)
    h2.send("t", "+250788383383", "hello", id=ID)
    assert len(h2.requests) == 3


def test_connection_refused_is_retried(toy):
    def refused(request):
        raise httpx.ConnectError("refused", request=request)

    h = toy(respond=refused)
    outcome = h.send("t", "+250788383383", "hello", id=ID)
    assert outcome.message.status == "errored" and outcome.message.error_code == "connection_failed"
    assert len(h.requests) == 3


def test_invalid_recipient_is_rejected_before_anything_is_stored(toy):
    h = toy()
    with pytest.raises(smsgate.errors.MessageInvalid):
        h.send("t", "MTN", "hello")
    assert h.messages() == [] and h.requests == []


def test_inbound_routes(toy):
    h = toy()
    ok = h.request("POST", "/c/t/receive", data={"from": "0788123123", "text": "hi", "id": "x1"})
    assert ok.status_code == 200 and ok.json()["data"][0]["from"] == "+250788123123"
    again = h.request("POST", "/c/t/receive/", data={"from": "0788123123", "text": "hi", "id": "x1"})
    assert again.json()["data"][0]["duplicate"] is True
    assert again.json()["data"][0]["id"] == ok.json()["data"][0]["id"]
    assert len(h.messages(direction="in")) == 1
    assert h.request("POST", "/c/nope/receive").status_code == 404
    assert "has no route" in h.request("POST", "/c/t/nope").text
    assert h.request("GET", "/c/t/status").status_code == 405
    bad = h.request("POST", "/c/t/receive", data={"text": "x"})
    assert bad.status_code == 400 and "field 'from' required" in bad.text
    assert h.request("POST", "/c/t/receive", data={"from": "MTN"}).status_code == 400
    big = h.request("POST", "/c/t/receive", content=b"x" * (1024 * 1024 + 1))
    assert big.status_code == 413
    assert len(h.messages(direction="in")) == 1


def test_status_never_moves_backwards(toy):
    h = toy()
    h.send("t", "+250788383383", "hello", id=ID)
    for status in ("delivered", "sent", "delivered", "failed"):
        assert h.request("POST", "/c/t/status", data={"id": ID, "status": status}).status_code == 200
    stored = h.message(ID)
    assert stored.status == "delivered"
    assert [(s["status"], s["applied"]) for s in stored.history] == [
        ("queued", True), ("wired", True), ("delivered", True), ("sent", False), ("failed", False)]


def test_status_by_external_id_and_unknown_message(toy):
    h = toy()
    h.send("t", "+250788383383", "hello", id=ID)
    h.request("POST", "/c/t/status", data={"ext": "ext-1", "status": "sent"})
    assert h.message(ID).status == "sent"
    unknown = h.request("POST", "/c/t/status", data={"ext": "zzz", "status": "sent"})
    assert unknown.status_code == 200 and unknown.json()["data"][0]["known_message"] is False


def test_app_mounts_under_a_prefix(toy):
    h = toy()
    outer = Starlette(routes=[Mount("/sms", app=h.app)])

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=outer), base_url="http://x") as c:
            return await c.post("/sms/c/t/receive", data={"from": "+250788123123", "text": "mounted"})

    response = h.run(go())
    assert response.status_code == 200
    assert h.messages(direction="in")[0].text == "mounted"


class Recorder:
    def __init__(self):
        self.calls = []

    @hookimpl
    def smsgate_message_received(self, message, channel):
        self.calls.append(("received", message.text, channel.name))

    @hookimpl
    async def smsgate_status_changed(self, update, previous, current):
        await asyncio.sleep(0)
        self.calls.append(("status", previous and previous.value, current.value))

    @hookimpl
    def smsgate_opted_out(self, event):
        self.calls.append(("opt_out", event.address))

    @hookimpl
    def smsgate_after_send(self, result):
        self.calls.append(("after", result.status.value))


def test_broadcast_hooks_fire_after_storage(toy, smsgate_register):
    recorder = Recorder()
    smsgate_register(recorder, "recorder")
    h = toy()
    h.send("t", "+250788383383", "hello", id=ID)
    h.request("POST", "/c/t/receive", data={"from": "+250788123123", "text": "yo", "id": "a"})
    h.request("POST", "/c/t/receive", data={"from": "+250788123123", "text": "yo", "id": "a"})
    h.request("POST", "/c/t/status", data={"id": ID, "status": "delivered"})
    h.request("POST", "/c/t/status", data={"id": ID, "status": "delivered"})
    h.request("POST", "/c/t/stopped", data={"from": "+250788123123"})
    assert recorder.calls == [
        ("status", None, "queued"), ("after", "wired"), ("status", "queued", "wired"),
        ("received", "yo", "t"), ("status", "wired", "delivered"), ("opt_out", "+250788123123")]


class Veto:
    @hookimpl
    def smsgate_before_send(self, message):
        if "forbidden" in message.text:
            return "contains a forbidden word"
        if message.text == "rewrite me":
            return OutgoingMessage(channel="ignored", to=message.to, text="rewritten")
        return None


def test_before_send_can_veto_or_rewrite(toy, smsgate_register):
    smsgate_register(Veto(), "veto")
    h = toy()
    vetoed = h.send("t", "+250788383383", "a forbidden word", id=ID)
    assert vetoed.message.status == "failed" and vetoed.message.error_code == "vetoed"
    assert h.requests == []
    h.send("t", "+250788383383", "rewrite me")
    assert h.requests[0].url.params["text"] == "rewritten"


class Broken:
    @hookimpl
    def smsgate_message_received(self, message):
        raise RuntimeError("listener bug")


def test_a_failing_listener_does_not_lose_the_message(toy, smsgate_register):
    smsgate_register(Broken(), "broken")
    h = toy()
    response = h.request("POST", "/c/t/receive", data={"from": "+250788123123", "text": "kept"})
    assert response.status_code == 200
    assert h.messages(direction="in")[0].text == "kept"


def test_adapter_bug_is_recorded_not_raised(toy, monkeypatch):
    async def boom(self, message, log):
        raise ZeroDivisionError("adapter bug")

    monkeypatch.setattr(Toy, "send", boom)
    h = toy()
    outcome = h.send("t", "+250788383383", "hello", id=ID)
    assert outcome.message.status == "failed" and outcome.message.error_code == "adapter_error"


def test_quick_replies_and_priority_survive_a_retry_from_the_store(toy):
    answers = iter([httpx.Response(500), httpx.Response(500), httpx.Response(500), httpx.Response(200, text="ok")])
    h = toy(respond=lambda r: next(answers))
    first = h.send("t", "+250788383383", "pick one", id=ID, quick_replies=["Yes", "No"], high_priority=True)
    assert first.message.status == "errored"
    seen = []

    async def spy(self, message, log):
        seen.append((message.quick_replies, message.high_priority))
        return await original(self, message, log)

    original = Toy.send
    Toy.send = spy
    try:
        claimed = h.run(h.store.claim(ID))
        retried = h.run(h.gateway.send_claimed(claimed))  # no message object: rebuilt from the store
    finally:
        Toy.send = original
    assert retried.message.status == "wired"
    assert seen == [(["Yes", "No"], True)]


def test_aggregator_cookies_are_never_sent_back(smsgate_harness):
    """One client serves every channel: a session cookie from one account's answer must not reach the next request."""
    harness = smsgate_harness({"a": {"adapter": "http", "country": "RW", "send_url": "https://agg.example/send"},
                               "b": {"adapter": "http", "country": "RW", "send_url": "https://agg.example/send"}},
                              respond=lambda r: httpx.Response(200, text="ok",
                                                               headers={"Set-Cookie": "session=account-a; Path=/"}))
    for channel in ("a", "b", "a"):
        assert harness.send(channel, "+250788383383", "hi").message.status == "wired"
    assert [r.headers.get("cookie") for r in harness.requests] == [None, None, None]


def test_proxy_environment_variables_are_honoured(tmp_path, monkeypatch):
    """HTTP_PROXY reaches a corporate proxy whichever http_backend is configured (httpx ignores it under a
    custom transport, so smsgate steps aside)."""
    import asyncio
    import http.server
    import threading

    from smsgate.host import config_from_dict, installed_adapters, open_gateway

    seen: list[str] = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.path)  # a proxy gets the absolute URL
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    config = config_from_dict({"gateway": {"database": str(tmp_path / "db.sqlite3")}, "channels": {"ex": {
        "adapter": "http", "country": "RW", "send_url": "http://aggregator.invalid/send", "max_attempts": 1}}},
        installed_adapters())

    async def send() -> str:
        async with open_gateway(config) as gateway:
            outcome = await gateway.send(await gateway.prepare("ex", "+250788383383", "via the proxy"))
            return outcome.message.status

    try:
        assert asyncio.run(send()) == "wired"
    finally:
        proxy.shutdown()
    assert seen == ["http://aggregator.invalid/send"]


@pytest.mark.parametrize(("share", "kept"), [(1.0, 2), (0.0, 0)])
def test_send_log_sample_keeps_a_share_of_successful_logs_and_every_failure(smsgate_harness, share, kept):
    answers = iter([httpx.Response(200, text="ok"), httpx.Response(200, text="ok"), httpx.Response(401, text="no")])
    harness = smsgate_harness({"a": {"adapter": "http", "country": "RW", "send_url": "https://agg.example/send"}},
                              gateway={"send_log_sample": share}, respond=lambda r: next(answers))
    sent = [harness.send("a", "+250788383383", f"hi {i}") for i in range(3)]
    assert [s.message.status for s in sent] == ["wired", "wired", "failed"]
    logs = {log["message_id"]: log for log in harness.logs()}
    assert sum(s.message.id in logs for s in sent[:2]) == kept
    assert logs[sent[2].message.id]["errors"]  # a failure is always stored, in full
