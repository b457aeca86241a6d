"""Live runs against a real httpbin (started by tests/support/peers) in the normal suite: no cassette, no mock.

httpbin's `/anything` echo is an independent reading of the request, so these tests prove the adapter's bytes and
headers on a real socket. The last test is the issue's acceptance path end to end: the `smsgate` CLI sends
through an `http` channel, `smsgate serve` takes the aggregator's callbacks, `smsgate messages` lists them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from smsgate_http import HttpAdapter

from tests.support.peers import Httpbin, free_port

pytestmark = pytest.mark.peers

MSG_ID = "0e6a3f7c-1b2d-4c5e-8f9a-0b1c2d3e4f5a"
TEXT = 'Mañana "at" 10 & <bring> ☺ +1'
TOKEN = "Token live-ABCDEF-123"


@pytest.fixture(scope="module")
def httpbin():
    with Httpbin() as hb:
        yield hb.url


def capture():
    """Record what went over the wire, with a real transport."""
    seen: list[httpx.Response] = []

    async def hook(response: httpx.Response) -> None:
        await response.aread()
        seen.append(response)

    return seen, hook


def run(factory, httpbin, **keys):
    h = factory({"live": {"adapter": "http", "address": "+12065550100", "country": "US", **keys}},
                adapters=[HttpAdapter], transport=httpx.AsyncHTTPTransport())
    client = h.gateway.http.client()
    seen, hook = capture()
    client.event_hooks["response"].append(hook)
    outcome = h.send("live", "+250788383383", TEXT, id=MSG_ID, quick_replies=["Sí", "No"])
    return h, outcome, seen


def test_json_send_is_echoed_exactly(smsgate_harness, httpbin):
    h, outcome, [response] = run(smsgate_harness, httpbin, send_url=f"{httpbin}/anything/ex?ch={{{{channel}}}}",
                                 content_type="json", send_authorization=TOKEN,
                                 headers={"X-Tenant": "acme", "Accept": "application/json"},
                                 body='{"to": {{to}}, "text": {{text}}, "id": {{id}}, "qr": {{quick_replies}}}')
    assert outcome.message.status == "wired"
    sent = response.request
    echo = response.json()
    assert echo["method"] == "POST" and echo["args"] == {"ch": "live"}
    assert echo["data"] == sent.content.decode() == (
        '{"to": "+250788383383", "text": "Mañana \\"at\\" 10 & <bring> ☺ +1", '
        f'"id": "{MSG_ID}", "qr": ["Sí","No"]}}')
    assert echo["json"] == {"to": "+250788383383", "text": TEXT, "id": MSG_ID, "qr": ["Sí", "No"]}
    headers = echo["headers"]
    assert headers["Content-Type"] == "application/json"
    assert headers["Authorization"] == TOKEN
    assert headers["X-Tenant"] == "acme" and headers["Accept"] == "application/json"
    assert headers["Content-Length"] == str(len(sent.content))
    assert TOKEN not in json.dumps(h.logs())  # the echo of the secret is masked in the channel log


def test_urlencoded_default_body_is_echoed_exactly(smsgate_harness, httpbin):
    _, outcome, [response] = run(smsgate_harness, httpbin, send_url=f"{httpbin}/anything/form",
                                 headers={"Authorization": "Basic dXNlcjpwYXNzd29yZA=="})
    assert outcome.message.status == "wired"
    echo = response.json()
    assert echo["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert echo["headers"]["Authorization"] == "Basic dXNlcjpwYXNzd29yZA=="  # headers map overrides
    assert echo["form"] == {"id": MSG_ID, "text": TEXT, "to": "+250788383383", "to_no_plus": "250788383383",
                            "from": "+12065550100", "from_no_plus": "12065550100", "channel": "live"}
    assert response.request.content.decode() == (
        f"id={MSG_ID}&text=Ma%C3%B1ana+%22at%22+10+%26+%3Cbring%3E+%E2%98%BA+%2B1&to=%2B250788383383"
        "&to_no_plus=250788383383&from=%2B12065550100&from_no_plus=12065550100&channel=live")


def test_live_error_classes(smsgate_harness, httpbin):
    for code, status in ((401, "failed"), (429, "errored"), (503, "errored")):
        _, outcome, responses = run(smsgate_harness, httpbin, send_url=f"{httpbin}/status/{code}", max_attempts=1)
        assert [r.status_code for r in responses] == [code]
        assert (outcome.message.status, outcome.message.error_code) == (status, str(code))


CLI = Path(sys.executable).with_name("smsgate")
# the developer's or CI's own SMSGATE_* settings must not leak into this config
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}


def _smsgate(*args: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), "--config", str(config), *args], capture_output=True, text=True, timeout=60,
                          env=CLEAN_ENV)


def test_cli_send_serve_callbacks_and_listing(tmp_path, httpbin):
    port = free_port()
    secret = "cb-secret-0123456789"
    config = tmp_path / "smsgate.toml"
    config.write_text(f"""
[gateway]
database = "{tmp_path / 'smsgate.sqlite3'}"
host = "127.0.0.1"
port = {port}

[channels.agg]
adapter = "http"
address = "+12065550100"
country = "RW"
content_type = "json"
send_url = "{httpbin}/anything/agg"
inbound_secret = "{secret}"
""")
    sent = _smsgate("send", "Hello from smsgate", "--channel", "agg", "--to", "0788383383", "--id", MSG_ID,
                    "--json", config=config)
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout)["status"] == "wired"

    serve_log = tmp_path / "serve.log"
    with serve_log.open("wb") as out:
        server = subprocess.Popen([str(CLI), "--config", str(config), "serve", "--log-level", "warning"],
                                  stdout=out, stderr=subprocess.STDOUT, env=CLEAN_ENV)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, serve_log.read_text()
            time.sleep(0.05)
        auth = {"X-Smsgate-Secret": secret}
        assert httpx.post(f"{base}/c/agg/receive", data={"from": "0788123123", "text": "Thanks!"}).status_code == 401
        received = httpx.post(f"{base}/c/agg/receive", headers=auth,
                              data={"from": "0788123123", "text": "Thanks!", "date": "2026-01-02T03:04:05.678Z"})
        assert received.status_code == 200, received.text
        delivered = httpx.get(f"{base}/c/agg/delivered/?id={MSG_ID}", headers=auth)
        assert delivered.status_code == 200 and '"status":"delivered"' in delivered.text
    finally:
        server.terminate()
        server.wait(10)

    listed = _smsgate("messages", "--json", config=config)
    assert listed.returncode == 0, listed.stderr
    rows = {m["direction"]: m for m in json.loads(listed.stdout)["messages"]}
    assert (rows["out"]["id"], rows["out"]["to"], rows["out"]["status"]) == (MSG_ID, "+250788383383", "delivered")
    assert (rows["in"]["from"], rows["in"]["text"]) == ("+250788123123", "Thanks!")
    assert rows["in"]["metadata"]["received_at"] == "2026-01-02T03:04:05.678000+00:00"
