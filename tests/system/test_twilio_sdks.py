"""Twilio's official SDKs, unchanged but for their base URL, send through smsgate's Twilio front (`[twilio_api]`):
Python's `twilio` (PyPI, in the lock) in this process and Node's `twilio` (npm, tools/twilio-node, run with the
Debian nodejs through tests/system/twilio_sdk.js), against a real `smsgate serve` with two channels:

- `web`, an http channel to a local aggregator that reports each message delivered (its delivered callback);
- `kn`, a REAL Kannel (bearerbox + smsbox + fakesmsc): MTs reach the fake SMSC, its DLRs come back.

Each SDK creates a message through each channel, fetches it until `delivered`, lists with paging and meets a
wrong token as its own 20003 error. Status callbacks land on a local application server and verify with the
SDK's own validator (Python `RequestValidator`, Node `validateRequest`). A message typed into fakesmsc reaches
the application's incoming webhook, signed (both validators agree), and the TwiML reply goes back out through
Kannel to the phone. Nothing here is mocked; if a peer cannot start, the test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from tests.support import twilio_contract
from tests.support.peers import KANNEL_GET_URL_QUERY, REPO_ROOT, Kannel, free_port
from tests.support.served import Served

pytestmark = pytest.mark.peers

SID = "AC" + "5e" * 16
TOKEN = "sdk-test-auth-token-8c41a7"
WEB = "+12025550100"
SHORTCODE = "2020"
PHONE = "+12025550123"
NODE_SDK = REPO_ROOT / "tools" / "twilio-node" / "node_modules"
DRIVER = Path(__file__).with_name("twilio_sdk.js")


class Application:
    """The aggregator behind channel `web` (it reports each send delivered) and the application the front calls
    back: status callbacks on /status/…, the incoming webhook on /sms (answered with TwiML)."""

    def __init__(self) -> None:
        self.gateway = ""  # smsgate's URL, for the delivered reports
        self.sends: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []  # {"url", "signature", "params", "path"}
        self.lock = threading.Lock()
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                answer, ctype = b"ok", "text/plain"
                if self.path == "/send":
                    sent = json.loads(body)
                    with app.lock:
                        app.sends.append(sent)
                    threading.Thread(target=app.deliver, args=(sent["id"],), daemon=True).start()
                else:
                    params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
                    with app.lock:
                        app.calls.append({"url": f"http://{self.headers['Host']}{self.path}", "path": self.path,
                                          "signature": self.headers.get("X-Twilio-Signature", ""), "params": params,
                                          "idempotency": self.headers.get("I-Twilio-Idempotency-Token")})
                    if self.path == "/sms":
                        reply = MessagingResponse()  # the SDK's own TwiML builder, as an application writes it
                        reply.message(f"Thanks for '{params.get('Body', '')}', we got it")
                        answer, ctype = str(reply).encode(), "text/xml"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def deliver(self, message_id: str) -> None:
        """The aggregator's delivery report, as the http channel's delivered callback takes it (a report for the
        last message may find the gateway stopped at the end of the module: then nobody waits for it)."""
        time.sleep(0.05)
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{self.gateway}/c/web/delivered", data={"id": message_id}, timeout=10)

    def calls_to(self, prefix: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.calls if c["path"].startswith(prefix)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Setup:
    url: str
    app: Application
    kannel: Kannel
    served: Served

    def client(self, token: str = TOKEN) -> Client:
        client = Client(SID, token)
        client.api.base_url = self.url  # the one change an application makes
        return client

    def logs(self) -> str:
        return self.served.log.read_text() + "\n" + self.kannel.logs()


def until(what: str, probe: Any, setup: Setup, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {timeout}s\n{setup.logs()[-4000:]}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> Iterator[Setup]:
    for name in ("TWILIO_EDGE", "TWILIO_REGION"):  # both SDKs would rewrite 127.0.0.1 with them
        assert name not in os.environ, f"unset {name}: the Twilio SDKs rewrite the base URL's host with it"
    tmp = tmp_path_factory.mktemp("twilio-sdks")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = Application()
    app.gateway = url
    kannel = Kannel(get_url=f"{url}/c/kn/receive?{KANNEL_GET_URL_QUERY}")
    config = tmp / "smsgate.toml"
    config.write_text(f"""
[gateway]
host = "127.0.0.1"
port = {port}
public_url = "{url}"
database = "{tmp / 'smsgate.sqlite3'}"
synchronous = "NORMAL"

[channels.web]
adapter = "http"
address = "{WEB}"
country = "US"
send_url = "{app.url}/send"
content_type = "json"

[channels.kn]
adapter = "kannel"
address = "{SHORTCODE}"
country = "US"
send_url = "{kannel.sendsms_url}"
username = "{kannel.username}"
password = "{kannel.password}"
dlr_mask = 31

[twilio_api]
account_sid = "{SID}"
auth_token = "{TOKEN}"
incoming_url = "{app.url}/sms"
default_channel = "web"
""")
    served = Served(config, port, tmp / "serve.log")
    with kannel:
        served.start()
        try:
            yield Setup(url, app, kannel, served)
        finally:
            served.stop()
            app.close()


def _delivered(setup: Setup, client: Client, sid: str) -> Any:
    def probe() -> Any:
        message = client.messages(sid).fetch()
        return message if message.status == "delivered" else None

    return until(f"{sid} delivered", probe, setup)


@pytest.mark.parametrize(("channel", "sender"), [("web", WEB), ("kn", SHORTCODE)])
def test_python_sdk_sends_through_a_channel_and_fetches_until_delivered(setup, channel, sender):
    client = setup.client()
    text = f"python sdk via {channel} {uuid.uuid4().hex[:6]}"
    created = client.messages.create(to=PHONE, from_=sender, body=text,
                                     status_callback=f"{setup.app.url}/status/py-{channel}")
    assert created.sid.startswith("SM") and created.status == "queued" and created.body == text
    assert (created.to, created.from_, created.account_sid, created.num_segments) == (PHONE, sender, SID, "1")
    message = _delivered(setup, client, created.sid)
    assert message.date_sent is not None and message.date_created <= message.date_sent
    assert (message.direction, message.error_code, message.price) == ("outbound-api", None, None)
    if channel == "kn":  # the real Kannel's fake SMSC got it, from the short code
        mt = setup.kannel.wait_for_mt(lambda m: m["text"] == text)
        assert (mt["from"], mt["to"]) == (SHORTCODE, PHONE)
    else:
        assert any(s["text"] == text for s in setup.app.sends)
    # the raw answer is what Twilio's contract describes
    raw = httpx.get(f"{setup.url}/2010-04-01/Accounts/{SID}/Messages/{created.sid}.json", auth=(SID, TOKEN))
    twilio_contract.check("GET", "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json", 200, raw.json())
    # status callbacks, verified with the SDK's own validator: sent, then delivered (never the initial queued)
    calls = until("the delivered callback", lambda: [c for c in setup.app.calls_to(f"/status/py-{channel}")
                                                     if c["params"]["MessageStatus"] == "delivered"], setup)
    statuses = [c["params"]["MessageStatus"] for c in setup.app.calls_to(f"/status/py-{channel}")]
    assert statuses == ["sent", "delivered"]
    validator = RequestValidator(TOKEN)
    for call in setup.app.calls_to(f"/status/py-{channel}"):
        assert validator.validate(call["url"], call["params"], call["signature"]), call
        assert not RequestValidator("someone-elses-token-000").validate(call["url"], call["params"],
                                                                         call["signature"])
        assert call["params"]["MessageSid"] == created.sid and call["params"]["AccountSid"] == SID
    assert calls[0]["idempotency"]


def test_python_sdk_lists_with_paging(setup):
    client = setup.client()
    mine = PHONE[:-2] + "77"
    sids = [client.messages.create(to=mine, from_=WEB, body=f"page {i}").sid for i in range(5)]
    listed = client.messages.list(to=mine, limit=4, page_size=2)
    assert [m.sid for m in listed] == sids[:0:-1]
    everything = client.messages.list(to=mine, page_size=2)
    assert [m.sid for m in everything] == sids[::-1]
    page = client.messages.page(to=mine, page_size=3)
    assert [m.sid for m in page] == sids[:1:-1]
    following = page.next_page()
    assert following is not None and [m.sid for m in following] == sids[1::-1]
    assert following.next_page() is None
    assert client.messages.list(to="+19999999999") == []


def test_python_sdk_wrong_token_is_its_20003_error(setup):
    with pytest.raises(TwilioRestException) as caught:
        setup.client("a-wrong-auth-token-0000").messages.create(to=PHONE, from_=WEB, body="never sent")
    assert (caught.value.status, caught.value.code) == (401, 20003)
    with pytest.raises(TwilioRestException) as missing:
        setup.client().messages("SM" + "0" * 32).fetch()
    assert (missing.value.status, missing.value.code) == (404, 20404)


def test_an_mo_reaches_the_webhook_signed_and_the_twiml_reply_goes_back_through_kannel(setup):
    marker = uuid.uuid4().hex[:8]
    sender = "+1202555" + str(int(marker, 16) % 10_000).zfill(4)
    setup.kannel.send_mo(sender, SHORTCODE, f"hello {marker}")
    [call] = until("the incoming webhook", lambda: [c for c in setup.app.calls_to("/sms")
                                                    if c["params"].get("From") == sender], setup)
    params = call["params"]
    assert (params["Body"], params["To"], params["AccountSid"], params["SmsStatus"]) == (
        f"hello {marker}", SHORTCODE, SID, "received")
    assert params["MessageSid"].startswith("SM") and params["FromCountry"] == "US"
    assert RequestValidator(TOKEN).validate(call["url"], params, call["signature"])
    # the reply reaches the phone through the same Kannel, from the short code
    mt = setup.kannel.wait_for_mt(lambda m: m["to"] == sender, timeout=30)
    assert (mt["from"], mt["text"]) == (SHORTCODE, f"Thanks for 'hello {marker}', we got it")
    # and both are the account's messages: the MO inbound, the reply outbound-reply
    listed = {m.direction: m for m in setup.client().messages.list(from_=sender)
              + setup.client().messages.list(to=sender)}
    assert listed["inbound"].body == f"hello {marker}" and listed["inbound"].sid == params["MessageSid"]
    assert listed["outbound-reply"].body == mt["text"]


def _node(setup: Setup, mode: str, stdin: str = "", **extra: str) -> Any:
    assert (NODE_SDK / "twilio" / "package.json").is_file(), "run .ci/install-peers (npm ci in tools/twilio-node)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SMSGATE_"))}
    env.update(NODE_PATH=str(NODE_SDK), TWILIO_FRONT_URL=setup.url, TWILIO_FRONT_SID=SID, TWILIO_FRONT_TOKEN=TOKEN,
               TWILIO_FRONT_TO=PHONE, **extra)
    done = subprocess.run(["node", str(DRIVER), mode], input=stdin, capture_output=True, text=True, env=env,
                          timeout=180)
    assert done.returncode == 0, done.stderr + setup.logs()[-3000:]
    return json.loads(done.stdout)


def test_node_sdk_sends_lists_and_validates_its_callbacks(setup):
    out = _node(setup, "run", TWILIO_FRONT_FROM=json.dumps({"web": WEB, "kn": SHORTCODE}))
    assert out["errors"] == [], out["errors"]
    for label in ("web", "kn"):
        sent = out["channels"][label]
        assert sent["sid"].startswith("SM") and sent["createdStatus"] == "queued", sent
        assert (sent["status"], sent["dateSent"], sent["dateCreated"], sent["numSegments"], sent["direction"]) == (
            "delivered", True, True, "1", "outbound-api")
    assert len(out["list"]) == 5 and len(set(out["list"])) == 5
    first, second = out["pages"]
    assert len(first) == 2 and len(second) == 2 and not set(first) & set(second)
    assert out["list"][:4] == first + second  # the same newest-first order, page after page
    assert out["toFilter"] >= 2
    assert out["wrongToken"] == {"status": 401, "code": 20003, "name": "RestException"}
    for label in ("web", "kn"):
        mine = [c for c in out["callbacks"] if c["path"] == f"/status/{label}"]
        assert [c["status"] for c in mine] == ["sent", "delivered"], mine
        assert all(c["valid"] and not c["forged"] and c["sid"] == out["channels"][label]["sid"] for c in mine)
    # the kannel message really reached the fake SMSC
    setup.kannel.wait_for_mt(lambda m: m["text"] == "node sdk via kn")


def test_node_sdk_validates_the_incoming_webhook_too(setup):
    setup.kannel.send_mo("+12025550142", SHORTCODE, "for node")
    calls = until("the incoming webhook", lambda: [c for c in setup.app.calls_to("/sms")
                                                   if c["params"].get("Body") == "for node"], setup)
    requests = [{"url": c["url"], "signature": c["signature"], "params": c["params"]} for c in calls]
    assert _node(setup, "validate", json.dumps(requests)) == [{"valid": True, "forged": False}]


DOC = REPO_ROOT / "docs" / "twilio-api.md"
DOC_SID, DOC_TOKEN = "AC0123456789abcdef0123456789abcdef", "change-me-to-a-long-random-token"


def _snippet(language: str, setup: Setup, label: str) -> str:
    """docs/twilio-api.md's `language` block, pointed at this gateway, account and application (nothing else
    of it changed)."""
    import re

    [block] = re.findall(rf"^```{language}\n(.*?)^```", DOC.read_text(), flags=re.M | re.S)
    assert "http://127.0.0.1:8080" in block and DOC_SID in block and DOC_TOKEN in block
    return (block.replace("http://127.0.0.1:8080", setup.url).replace(DOC_SID, SID).replace(DOC_TOKEN, TOKEN)
            .replace("https://app.example.com/status", f"{setup.app.url}/status/{label}"))


@pytest.mark.parametrize("language", ["python", "js"])
def test_the_documented_snippets_run_as_written(setup, language):
    code = _snippet(language, setup, f"doc-{language}")
    command = [sys.executable, "-c", code] if language == "python" else ["node", "-e", code]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SMSGATE_"))}
    env["NODE_PATH"] = str(NODE_SDK)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    first, second, *listed = done.stdout.splitlines()
    sid, status = first.split()
    assert sid.startswith("SM") and len(sid) == 34 and status == "queued"
    assert second in ("queued", "sending", "sent", "delivered")
    assert any(line.startswith(sid) for line in listed)
    until("its status callbacks", lambda: setup.app.calls_to(f"/status/doc-{language}"), setup)
