"""The web console as a person uses it: Debian's Chromium, driven by Playwright, against `smsgate serve`.

The second test watches the channels page's live view (links, traffic, queues) follow an aggregator that comes back,
without a reload.

The gateway runs as a real process with an `http` channel whose aggregator is a real httpbin (tests/support/peers):
its /post echoes every request, the channel's `send_authorization` secret included, so the console must show
that exchange with the secret masked. A second channel points at httpbin's /status/400 (sends fail), and a
webhook at /status/503 (its calls wait in the outbox). The test signs in, finds a message it sent through the
adapter, opens its page, sends a test message and resends a failed one from the forms, and checks that a
wrong token, a form without its CSRF token and a session from another gateway are refused.

Chromium is Debian's (`.ci/install-peers` installs it); Playwright's own browser download cannot run here. If
Chromium cannot start, this test fails: it never skips. Screenshots of each page go to the test's tmp_path
(and to $SMSGATE_SCREENSHOTS when set: `SMSGATE_SCREENSHOTS=docs/img scripts/test -k browser` refreshes
the docs' pictures).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.support.peers import REPO_ROOT, Httpbin, free_ports

pytestmark = pytest.mark.peers

CHROMIUM = "/usr/bin/chromium"
# --disable-background-networking and friends: Chromium's own calls home are refused here, and must not be
# mistaken for the console's requests
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "browser-test-token-5d1f0e9a7c"
OTHER_TOKEN = "another-gateway-token-88e2b41c"
AGG_SECRET = "agg-s3cr3t-7Qx9"  # the channel's Authorization value: httpbin echoes it back
HOOK_SECRET = "browser-test-webhook-secret"


class Serve:
    """`smsgate serve` on `config` as a subprocess, stopped by PID."""

    def __init__(self, tmp: Path, name: str, config: str, port: int) -> None:
        self.path = tmp / f"{name}.toml"
        self.path.write_text(config)
        self.log = tmp / f"{name}.log"
        self.url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-c", "from smsgate_cli.main import main; main()",
                                          "--config", str(self.path), "serve", "--log-level", "warning"],
                                         env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"smsgate serve exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"smsgate serve did not answer: {self.log.read_text()[-3000:]}")

    def api(self, method: str, path: str, **kwargs):
        return httpx.request(method, f"{self.url}/api/v1{path}", headers={"Authorization": f"Bearer {TOKEN}"},
                             timeout=30, **kwargs)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def gateway_config(port: int, database: Path, aggregator: str, token: str) -> str:
    return textwrap.dedent(f"""
        [gateway]
        host = "127.0.0.1"
        port = {port}
        public_url = "http://127.0.0.1:{port}"
        database = "{database}"
        api_token = "{token}"

        [[gateway.webhooks]]
        url = "{aggregator}/status/503"
        secret = "{HOOK_SECRET}"

        [channels.ex]
        adapter = "http"
        address = "+250788000000"
        country = "RW"
        send_url = "{aggregator}/post"
        content_type = "json"
        send_authorization = "Token {AGG_SECRET}"
        max_attempts = 1

        [channels.broken]
        adapter = "http"
        address = "+250788000001"
        country = "RW"
        send_url = "{aggregator}/status/400"
        max_attempts = 1
    """)


def wait_status(serve: Serve, message_id: str, statuses: set[str]) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = serve.api("GET", f"/messages/{message_id}").json()
        if found.get("status") in statuses:
            return found
        time.sleep(0.05)
    raise AssertionError(f"message {message_id} never reached {statuses}: {found}")


@pytest.fixture
def shots(tmp_path):
    """save(page, name): a full-page screenshot under tmp_path (and $SMSGATE_SCREENSHOTS when set)."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    extra = os.environ.get("SMSGATE_SCREENSHOTS")

    def save(page: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if extra:
            target = Path(extra) if Path(extra).is_absolute() else REPO_ROOT / extra
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target / f"console-{name}.png")
        return path

    save.folder = folder
    return save


def test_an_operator_uses_the_console_in_chromium(tmp_path, shots):
    port, other_port = free_ports(2)
    database = tmp_path / "smsgate.sqlite3"
    with Httpbin() as httpbin:
        serve = Serve(tmp_path, "gateway", gateway_config(port, database, httpbin.url, TOKEN), port)
        other = None
        try:
            # traffic from before the operator looks: a message through the adapter, its delivery report,
            # an incoming message and a send the aggregator refuses
            sent_id = str(uuid.uuid4())
            assert serve.api("POST", "/messages", json={"channel": "ex", "to": "0788123123", "id": sent_id,
                                                        "text": "Hello from the browser test"}).status_code == 202
            wait_status(serve, sent_id, {"wired"})
            dlr = httpx.post(f"{serve.url}/c/ex/delivered", params={"id": sent_id}, timeout=10)
            assert dlr.status_code == 200, dlr.text
            assert httpx.post(f"{serve.url}/c/ex/receive", data={"from": "0788123123", "text": "Thanks, got it"},
                              timeout=10).status_code == 200
            failed_id = str(uuid.uuid4())
            assert serve.api("POST", "/messages", json={"channel": "broken", "to": "0788555555", "id": failed_id,
                                                        "text": "This one fails"}).status_code == 202
            wait_status(serve, failed_id, {"failed"})
            with sync_playwright() as pw:
                context = pw.chromium.launch_persistent_context(
                    str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
                    args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
                try:
                    other = operate(context, serve, sent_id, failed_id, shots, tmp_path, other_port, database,
                                    httpbin.url)
                finally:
                    context.close()
        finally:
            serve.stop()
            if other is not None:
                other.stop()
    log = serve.log.read_text()
    assert "Traceback" not in log, log[-3000:]


def operate(context, serve: Serve, sent_id: str, failed_id: str, shots, tmp_path: Path, other_port: int,
            database: Path, aggregator: str) -> Serve:
    requested: list[str] = []
    problems: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    base = f"{serve.url}/ui"

    # signed out, every page leads to the sign-in form; a wrong token is refused
    page.goto(f"{base}/channels")
    expect(page).to_have_url(f"{base}/login?next=%2Fui%2Fchannels")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shots(page, "login")
    page.get_by_label("API token or console password").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong token or password.")
    assert page.url == f"{base}/login"
    problems.remove("Failed to load resource: the server responded with a status of 401 (Unauthorized)")

    # with the keyboard only: the field has the focus, Enter submits
    expect(page.get_by_label("API token or console password")).to_be_focused()
    page.keyboard.type(TOKEN)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{base}/channels")
    expect(page.get_by_role("heading", name="Channels", exact=True)).to_be_visible()
    ex = page.get_by_role("region", name="ex")
    expect(ex.get_by_text("1 delivered", exact=True)).to_be_visible()
    expect(ex.get_by_text("1 received", exact=True)).to_be_visible()
    expect(page.get_by_role("img", name="Messages per hour on channel ex")).to_be_visible()
    # its aggregator answers, with 400s: the link is up, and the 400 is its last error (from the channel log)
    expect(page.get_by_role("region", name="broken").locator(".link")).to_have_text("up")
    broken = page.locator('#live tr[data-channel="broken"]')
    expect(broken.locator(".last-error")).to_contain_text("HTTP 400")
    shots(page, "channels")

    # find the message sent through the adapter by its number, open it
    page.get_by_role("link", name="Messages").click()
    page.get_by_label("Channel").select_option("ex")
    page.get_by_label("Number").fill("0788123123")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("Number read as +250788123123")).to_be_visible()
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(2)  # what we sent and what came back
    shots(page, "messages")
    rows.filter(has_text="Hello from the browser test").get_by_role("link").click()
    expect(page).to_have_url(f"{base}/messages/{sent_id}")
    timeline = page.locator("ol.timeline li .badge")
    expect(timeline).to_have_text(["queued", "wired", "delivered"])
    first_trace = page.locator("details.trace").first
    expect(first_trace).to_contain_text("/post")
    expect(first_trace).to_contain_text("**********")
    expect(page.get_by_role("region", name="delivered at")).to_be_visible()  # the DLR callback's exchange
    html = page.content()
    assert AGG_SECRET not in html and TOKEN not in html
    assert html.count("**********") >= 2  # the Authorization header sent, and httpbin's echo of it
    expect(page.get_by_role("region", name="Webhook and bridge calls").get_by_text("waiting").first).to_be_visible()
    shots(page, "message")

    # send a test message from the form: it goes out through the adapter now
    page.get_by_role("link", name="Send a test").click()
    page.get_by_label("Channel").select_option("ex")
    page.get_by_label("To").fill("0788999111")
    page.get_by_label("Text").fill("Test from the console")
    shots(page, "send")
    page.get_by_role("button", name="Send now").click()
    expect(page.get_by_role("status")).to_have_text("Sent through ex: wired.")
    expect(page.get_by_text("+250788999111", exact=True)).to_be_visible()
    test_id = page.url.split("/messages/")[1].split("?")[0]
    assert serve.api("GET", f"/messages/{test_id}").json()["status"] == "wired"

    # the channel cards refresh themselves (htmx polls every 60 s): a refresh now shows a message that arrived
    # after the page loaded; once the session is gone, a refresh takes the whole page to the sign-in form
    page.goto(f"{base}/channels")
    ex = page.get_by_role("region", name="ex")
    expect(ex.get_by_text("1 received", exact=True)).to_be_visible()
    assert httpx.post(f"{serve.url}/c/ex/receive", data={"from": "0788123123", "text": "One more"},
                      timeout=10).status_code == 200
    refresh = "htmx.ajax('GET', document.querySelector('#channel-list').getAttribute('hx-get'), " \
              "{target: '#channel-list', swap: 'outerHTML'})"
    page.evaluate(refresh)
    expect(ex.get_by_text("2 received", exact=True)).to_be_visible()
    cookies = context.cookies()
    context.clear_cookies()
    page.evaluate(refresh)
    expect(page).to_have_url(f"{base}/login?next=%2Fui%2Fchannels")
    problems.remove("Failed to load resource: the server responded with a status of 401 (Unauthorized)")
    context.add_cookies(cookies)

    # resend the failed one: a new message, through the adapter again (which refuses it again)
    page.goto(f"{base}/messages?status=failed")
    page.locator("table.list tbody tr").first.get_by_role("link").click()
    expect(page).to_have_url(f"{base}/messages/{failed_id}")
    page.get_by_role("button", name="Resend as a new message").click()
    expect(page.get_by_role("status")).to_have_text("Resent as this new message: failed.")
    expect(page.get_by_role("link", name=failed_id)).to_be_visible()

    page.get_by_role("link", name="Outbox").click()
    expect(page.locator("table.list tbody tr").first).to_contain_text("HTTP 503")
    shots(page, "outbox")

    # phone width: nothing wider than the screen
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    for path in ("channels", f"messages/{sent_id}", "messages", "send"):
        phone.goto(f"{base}/{path}")
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"/ui/{path} is {overflow}px wider than a phone"
    phone.goto(f"{base}/channels")
    shots(phone, "channels-phone")
    phone.close()

    # a form without its CSRF token (another site's, or a script's) is refused, and sends nothing
    before = len(serve.api("GET", "/messages", params={"limit": 100}).json()["messages"])
    form = {"channel": "ex", "to": "0788999222", "text": "forged"}
    for fields in (form, {**form, "csrf_token": "a-guess"}):
        refused = context.request.post(f"{base}/send", form=fields, max_redirects=0)
        assert refused.status == 403 and "CSRF" in refused.text()
    assert len(serve.api("GET", "/messages", params={"limit": 100}).json()["messages"]) == before

    assert not problems, problems  # no script error, no Content-Security-Policy violation
    outside = [u for u in requested if not u.startswith(serve.url)]
    assert not outside, f"the console requested other origins: {outside}"

    # a session from another gateway (same host, other port: the browser sends it to both) is refused
    other = Serve(tmp_path, "other", gateway_config(other_port, database, aggregator, OTHER_TOKEN), other_port)
    page.goto(f"{other.url}/ui/login")
    page.get_by_label("API token or console password").fill(OTHER_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{other.url}/ui/channels")
    page.goto(f"{base}/messages")
    expect(page).to_have_url(f"{base}/login?next=%2Fui%2Fmessages")
    forged = context.request.post(f"{base}/send", form={**form, "csrf_token": "x"}, max_redirects=0)
    assert forged.status == 403
    return other


class _Aggregator:
    """An HTTP aggregator on a port chosen beforehand (so it can come back where a channel expects it): 200 ok."""

    def __init__(self, port: int) -> None:
        class Answer(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Answer)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_channels_live_view_follows_an_aggregator_without_a_reload(tmp_path, shots):
    port, steady_port, flaky_port = free_ports(3)
    steady = _Aggregator(steady_port)
    flaky: _Aggregator | None = None  # nothing listens on flaky_port yet: its aggregator is down
    config = textwrap.dedent(f"""
        [gateway]
        host = "127.0.0.1"
        port = {port}
        database = "{tmp_path / 'live.sqlite3'}"
        api_token = "{TOKEN}"
        send_retry_base = 1
        send_retry_max = 2

        [channels.ex]
        adapter = "http"
        country = "RW"
        send_url = "http://127.0.0.1:{steady_port}/send"
        health_interval = 1

        [channels.flaky]
        adapter = "http"
        country = "RW"
        send_url = "http://127.0.0.1:{flaky_port}/send"
        health_interval = 1
        max_attempts = 1
    """)
    serve = Serve(tmp_path, "live", config, port)
    live = 30_000  # ms: a change shows at the next refresh (every 5 s) after the next probe (every second)
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 900})
            try:
                page = context.new_page()
                problems: list[str] = []
                page.on("pageerror", lambda exc: problems.append(str(exc)))
                page.goto(f"{serve.url}/ui/channels")
                page.get_by_label("API token or console password").fill(TOKEN)
                page.get_by_role("button", name="Sign in").click()
                expect(page).to_have_url(f"{serve.url}/ui/channels")
                loads: list[str] = []
                page.on("load", lambda: loads.append(page.url))
                table = page.get_by_role("region", name="Now")
                ex, down = table.locator('tr[data-channel="ex"]'), table.locator('tr[data-channel="flaky"]')
                expect(ex.locator(".link")).to_have_text("up", timeout=live)
                expect(down.locator(".link")).to_have_text("down", timeout=live)
                expect(down.locator(".reason")).to_have_text(
                    f"cannot connect to 127.0.0.1:{flaky_port} (connection refused)")
                expect(down.locator(".queue")).to_have_text("0")

                # traffic on one channel, a message waiting on the other: both show up without a reload
                for i in range(3):
                    assert serve.api("POST", "/messages", json={"channel": "ex", "to": "0788123123",
                                                                "text": f"live {i}"}).status_code == 202
                waiting = serve.api("POST", "/messages", json={"channel": "flaky", "to": "0788123123",
                                                               "text": "waits for its aggregator"})
                assert waiting.status_code == 202
                expect(ex.locator(".out-rate")).to_have_text("0.05", timeout=live)  # 3 in the last minute
                expect(down.locator(".queue")).to_have_text("1", timeout=live)
                expect(down.locator(".last-error")).to_contain_text("connection refused", timeout=live)
                shots(page, "channels-live")

                # the aggregator comes back: up, its message sent, its queue empty, still without a reload
                flaky = _Aggregator(flaky_port)
                expect(down.locator(".link")).to_have_text("up", timeout=live)
                # whichever evidence came first: the probe's connection, or the waiting message's next attempt
                expect(down.locator(".reason")).to_have_text(
                    re.compile(rf"127\.0\.0\.1:{flaky_port} reachable|answered a send \(HTTP 200\)"))
                expect(down.locator(".queue")).to_have_text("0", timeout=live)
                expect(down.locator(".out-rate")).to_have_text("0.02", timeout=live)  # 1 in the last minute
                wait_status(serve, waiting.json()["id"], {"wired"})
                assert loads == [], f"the page was reloaded: {loads}"
                assert not problems, problems
            finally:
                context.close()
    finally:
        serve.stop()
        steady.close()
        if flaky is not None:
            flaky.close()
    assert "Traceback" not in serve.log.read_text()
