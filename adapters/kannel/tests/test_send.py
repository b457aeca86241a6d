"""Sends through a `kannel` channel against a fake smsbox: the sendsms GET built, and the outcome classes.

Courier-style table (RapidPro's handlers/kannel test cases, plus our keys `unicode_form`, `smsc`, `priority`).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

import httpx
import pytest
from smsgate.testing import ExpectedRequest, OutboundCase, assert_no_secrets, run_outbound_case
from smsgate_kannel import KannelAdapter

MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
PASSWORD = "Pa ss&wörd+1/%"  # characters that change under URL encoding: every form must stay out of the logs
SEND_URL = "http://kannel.example:13013/cgi-bin/sendsms"
BASE = {"address": "2020", "country": "RW", "send_url": SEND_URL, "username": "gate", "password": PASSWORD}
DLR_URL = f"https://gateway.example/c/test/status?id={MSG_ID}&status=%d&smsc_reply=%A"
FIXED = {"username": "gate", "password": PASSWORD, "from": "2020", "to": "+250788383383", "dlr-mask": "27",
         "dlr-url": DLR_URL}


def raw_query(request: httpx.Request) -> dict[str, bytes]:
    """The query parameters as the bytes Kannel decodes (UTF-16BE text is not UTF-8)."""
    pairs = urllib.parse.parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True, encoding="latin-1")
    out: dict[str, bytes] = {}
    for key, value in pairs:
        assert key not in out, f"parameter {key} sent twice"
        out[key] = value.encode("latin-1")
    return out


@dataclass
class Sendsms(ExpectedRequest):
    """One sendsms GET: every parameter as bytes (nothing more, nothing less) and the exact `text` wire form."""

    sent: dict[str, str | bytes] = field(default_factory=dict)
    text_wire: str | None = None

    def check(self, request: httpx.Request, label: str) -> None:
        """Assert method, path, the decoded parameters and (when given) the percent-encoded text."""
        super().check(request, label)
        assert request.method == "GET", label
        want = {k: v if isinstance(v, bytes) else v.encode() for k, v in self.sent.items()}
        assert raw_query(request) == want, f"{label}: {raw_query(request)}"
        if self.text_wire is not None:
            wire = dict(p.split("=", 1) for p in request.url.query.decode().split("&"))
            assert wire["text"] == self.text_wire, f"{label}: text on the wire {wire['text']}"


def sent(**params: str | bytes) -> dict[str, str | bytes]:
    """FIXED plus `params` (a value of None removes the key); `dlr_mask` style names map to `dlr-mask`."""
    out: dict[str, str | bytes] = {**FIXED}
    for key, value in params.items():
        key = key.replace("_", "-")
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


CASES = [
    OutboundCase("plain", "Simple Message",
                 requests=[Sendsms(path="/cgi-bin/sendsms", sent=sent(text="Simple Message"))]),
    OutboundCase("reserved characters", "1+1=2 & 100% ?#", requests=[
        Sendsms(sent=sent(text="1+1=2 & 100% ?#"), text_wire="1%2B1%3D2+%26+100%25+%3F%23")]),
    OutboundCase("smart encoding makes GSM-7", "Fancy “Smart” Quotes…", requests=[
        Sendsms(sent=sent(text='Fancy "Smart" Quotes...'))]),
    # courier's own vector: "Hi ☺" is %00H%00i%00+%26%3A
    OutboundCase("smart falls back to UCS-2 as UTF-16BE bytes", "Hi ☺", requests=[
        Sendsms(sent=sent(text="Hi ☺".encode("utf-16-be"), coding="2"), text_wire="%00H%00i%00+%26%3A")]),
    OutboundCase("unicode with an astral emoji", "Привет 👋", requests=[
        Sendsms(sent=sent(text="Привет 👋".encode("utf-16-be"), coding="2"))]),
    OutboundCase("U always unicode", "Simple", settings={"encoding": "U"}, requests=[
        Sendsms(sent=sent(text="Simple".encode("utf-16-be"), coding="2"), text_wire="%00S%00i%00m%00p%00l%00e")]),
    OutboundCase("utf8 form", "Привет 👋 ☺", settings={"unicode_form": "utf8"}, requests=[
        Sendsms(sent=sent(text="Привет 👋 ☺", coding="2", charset="UTF-8"))]),
    OutboundCase("utf8 form, U on ASCII", "Hi", settings={"unicode_form": "utf8", "encoding": "U"}, requests=[
        Sendsms(sent=sent(text="Hi", coding="2", charset="UTF-8"))]),
    OutboundCase("utf8 form, GSM-7 text has no coding", "Hi", settings={"unicode_form": "utf8"}, requests=[
        Sendsms(sent=sent(text="Hi"))]),
    OutboundCase("D sends UTF-8 without coding", "Fancy “Smart” ☺", settings={"encoding": "D"}, requests=[
        Sendsms(sent=sent(text="Fancy “Smart” ☺"))]),
    OutboundCase("use_national", "Simple", settings={"use_national": True}, requests=[
        Sendsms(sent=sent(text="Simple", to="788383383"))]),
    OutboundCase("fixed params in send_url are kept", "Simple", settings={"send_url": SEND_URL + "?auth=foo&x=1"},
                 requests=[Sendsms(sent=sent(text="Simple", auth="foo", x="1"))]),
    OutboundCase("send_url ending in ?", "Simple", settings={"send_url": SEND_URL + "?"},
                 requests=[Sendsms(sent=sent(text="Simple"))]),
    OutboundCase("smsc and priority", "Simple", settings={"smsc": "smpp-mtn", "priority": 2},
                 requests=[Sendsms(sent=sent(text="Simple", smsc="smpp-mtn", priority="2"))]),
    OutboundCase("custom dlr_mask", "Simple", settings={"dlr_mask": 31},
                 requests=[Sendsms(sent=sent(text="Simple", dlr_mask="31"))]),
    OutboundCase("dlr_mask 0 asks for no report", "Simple", settings={"dlr_mask": 0},
                 requests=[Sendsms(sent=sent(text="Simple", dlr_mask=None, dlr_url=None))]),
    OutboundCase("no address: no from", "Simple", settings={"address": ""},
                 requests=[Sendsms(sent=sent(text="Simple", **{"from": None}))]),
    OutboundCase("attachments appended, one request", "My pic!", attachments=["image/jpeg:https://foo.bar/image.jpg"],
                 requests=[Sendsms(sent=sent(text="My pic!\nhttps://foo.bar/image.jpg"))]),
    OutboundCase("long text is one request (Kannel concatenates)", "x" * 400,
                 requests=[Sendsms(sent=sent(text="x" * 400))]),
    OutboundCase("202 accepted", "Simple", responses=[(202, "0: Accepted for delivery")], status="wired"),
    OutboundCase("202 queued for later", "Simple", responses=[(202, "3: Queued for later delivery")], status="wired"),
    OutboundCase("201 is success", "Simple", responses=[(201, "")], status="wired"),
    OutboundCase("403 bad credentials", "Simple", responses=[(403, "Authorization failed for sendsms")],
                 status="failed", error_code="403"),
    OutboundCase("403 not routable", "Simple", responses=[(403, "Not routable. Do not try again.")],
                 status="failed", error_code="403"),
    OutboundCase("400 rejected", "Simple", responses=[(400, "Missing receiver number, rejected")],
                 status="failed", error_code="400"),
    OutboundCase("401", "Simple", responses=[(401, "Unauthorized")], status="failed", error_code="401"),
    OutboundCase("500 is retryable", "Simple", responses=[(500, "boom")], status="errored", error_code="500",
                 requests=[Sendsms(sent=sent(text="Simple"))] * 3),
    OutboundCase("503 then 202", "Simple", responses=[(503, "busy"), (202, "0: Accepted for delivery")],
                 status="wired", requests=[Sendsms(sent=sent(text="Simple"))] * 2),
    OutboundCase("429 is throttled", "Simple", responses=[(429, "slow down")], status="errored",
                 error_code="429"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_send(smsgate_harness, case):
    outcome = run_outbound_case(smsgate_harness, "kannel", BASE, case)
    if case.status != "wired":
        # Kannel's own explanation reaches the message and its channel log (never the password: checked above)
        body = case.responses[-1][1]
        assert body in outcome.message.error_reason, outcome.message.error_reason


def harness_for(factory, respond, **settings):
    return factory({"test": {"adapter": "kannel", "max_retry_wait": 0, **BASE, **settings}}, respond=respond)


def test_high_priority_message_sends_priority_1(smsgate_harness):
    h = harness_for(smsgate_harness, lambda r: httpx.Response(202, text="0: Accepted for delivery"))
    h.send("test", "+250788383383", "urgent", id=MSG_ID, high_priority=True)
    assert raw_query(h.requests[0])["priority"] == b"1"


def test_high_priority_keeps_a_higher_configured_priority(smsgate_harness):
    h = harness_for(smsgate_harness, lambda r: httpx.Response(202, text="0: Accepted"), priority=3)
    h.send("test", "+250788383383", "urgent", id=MSG_ID, high_priority=True)
    assert raw_query(h.requests[0])["priority"] == b"3"


@pytest.mark.parametrize(("error", "code"), [
    (httpx.ReadTimeout("timed out"), "read_timeout"),
    (httpx.ConnectError("connection refused"), "connection_failed"),
    (httpx.ConnectTimeout("connect timed out"), "connection_failed"),
])
def test_transport_errors_are_retryable(smsgate_harness, error, code):
    def respond(request):
        raise error

    h = harness_for(smsgate_harness, respond)
    outcome = h.send("test", "+250788383383", "Simple", id=MSG_ID)
    # a read timeout may mean Kannel has the message: failed at once, never retried (retry_on_timeout is off);
    # the others are retried, then left errored for the worker
    expected = "failed" if code == "read_timeout" else "errored"
    assert (outcome.message.status, outcome.message.error_code) == (expected, code)
    assert len(h.requests) == (1 if code == "read_timeout" else 3)
    assert_no_secrets(h, [PASSWORD])


def test_403_reason_is_in_the_channel_log_without_the_password(smsgate_harness):
    h = harness_for(smsgate_harness, lambda r: httpx.Response(403, text="Authorization failed for sendsms"))
    outcome = h.send("test", "+250788383383", "Simple", id=MSG_ID)
    assert outcome.message.status == "failed"
    [log] = h.logs(message_id=MSG_ID)
    [trace] = log["traces"]
    assert trace["status_code"] == 403 and trace["response_body"] == "Authorization failed for sendsms"
    assert any("Authorization failed for sendsms" in e for e in log["errors"])
    assert "password=**********" in trace["url"]
    assert_no_secrets(h, [PASSWORD])


def test_tls_verification_is_passed_per_call(smsgate_harness, monkeypatch):
    import ssl

    import certifi

    seen = []
    h = harness_for(smsgate_harness, lambda r: httpx.Response(202), send_url="https://kannel.example/cgi-bin/sendsms")
    real_client = h.gateway.http.client

    def spy(verify=None):
        seen.append(verify)
        return real_client(verify)

    monkeypatch.setattr(h.gateway.http, "client", spy)
    h.send("test", "+250788383383", "Simple", id=MSG_ID)
    assert seen == [None]  # verify_tls on, no bundle: the gateway's default (verifying) client

    h2 = harness_for(smsgate_harness, lambda r: httpx.Response(202), verify_tls=False)
    monkeypatch.setattr(h2.gateway.http, "client", spy)
    h2.send("test", "+250788383383", "Simple", id=MSG_ID)
    assert seen[-1] is False

    h3 = harness_for(smsgate_harness, lambda r: httpx.Response(202), ca_bundle=certifi.where())
    monkeypatch.setattr(h3.gateway.http, "client", spy)
    h3.send("test", "+250788383383", "Simple", id=MSG_ID)
    h3.send("test", "+250788383383", "Again", id="20a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1")
    context = seen[-1]
    assert isinstance(context, ssl.SSLContext)
    assert seen[-2] is context  # one context per channel, so one pooled client for it


def test_missing_ca_bundle_is_a_config_error(smsgate_harness):
    from smsgate.errors import ConfigError

    with pytest.raises(ConfigError, match="ca_bundle"):
        harness_for(smsgate_harness, lambda r: httpx.Response(202), ca_bundle="/nonexistent/ca.pem")


def test_an_unreadable_ca_bundle_fails_the_send_as_config_error(smsgate_harness, tmp_path):
    bundle = tmp_path / "broken.pem"
    bundle.write_text("not a certificate")
    h = harness_for(smsgate_harness, lambda r: httpx.Response(202), ca_bundle=str(bundle))
    outcome = h.send("test", "+250788383383", "Simple", id=MSG_ID)
    assert (outcome.message.status, outcome.message.error_code) == ("failed", "channel_config")
    assert h.requests == []


def test_dlr_url_is_literal_for_kannel(smsgate_harness):
    """`%d`/`%A` must reach Kannel as they are: encoded once in the query, decoded once by smsbox."""
    h = harness_for(smsgate_harness, lambda r: httpx.Response(202))
    h.send("test", "+250788383383", "Simple", id=MSG_ID)
    wire = dict(p.split("=", 1) for p in h.requests[0].url.query.decode().split("&"))
    assert wire["dlr-url"] == urllib.parse.quote_plus(DLR_URL, safe="")
    assert "%25d" in wire["dlr-url"] and "%25A" in wire["dlr-url"]
    assert KannelAdapter.dlr_url(h.gateway.adapters["test"], MSG_ID) == DLR_URL


@pytest.mark.parametrize(("settings", "text", "segments"), [
    ({}, "x" * 160, 1),
    ({}, "x" * 161, 2),
    ({}, "“Smart” " + "x" * 150, 1),  # smart encoding makes it GSM-7: 160 septets fit one SMS
    ({}, "☺" * 70, 1),
    ({}, "☺" * 71, 2),
    ({"encoding": "U"}, "x" * 71, 2),  # forced UCS-2: 70 per SMS
    ({"encoding": "D"}, "☺" * 100, 1),  # D: Kannel sends GSM-7 ('?' for ☺)
])
def test_segments_follow_the_encoding_sent(smsgate_harness, settings, text, segments):
    h = harness_for(smsgate_harness, lambda r: httpx.Response(202), **settings)
    assert h.send("test", "+250788383383", text, id=MSG_ID).message.segments == segments
