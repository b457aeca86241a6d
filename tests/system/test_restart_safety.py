"""Restart safety of `smsgate serve`: SIGKILL it mid-queue, restart it, and count what the aggregator received.

The aggregator is a local stub (Starlette under uvicorn on 127.0.0.1, in this process) that answers the
first few sends and then holds every further request open, so the kill lands at a known point: some messages
wired, one request per worker slot sitting at the aggregator unanswered (in doubt), the rest still queued.
The gateway runs as a real subprocess with a tiny adapter plugin (a temporary dist-info on PYTHONPATH) that
POSTs {id, to, text} to the stub. Webhooks go to the stub too, so the durable outbox is checked across the kill.
"""

import collections
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import httpx
import uvicorn
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.peers import free_ports

TOKEN = "restart-test-token-0123456789"
HOOK_SECRET = "restart-test-webhook-secret"
N, ANSWERED, SLOTS = 20, 5, 3

PLUGIN = '''
"""A test adapter: POST {id, to, text} as JSON to `url`; any 2xx means wired."""
import smsgate
from pydantic import Field


class StubSettings(smsgate.ChannelSettings):
    """Keys of a `stubpost` channel."""

    url: str = Field(description="Where sends are POSTed.")


class StubPost(smsgate.Adapter):
    """POSTs each message as JSON."""

    name = "stubpost"
    settings_model = StubSettings

    async def send(self, message, log):
        await self.http.request(log, self.settings, "POST", self.settings.url,
                                json={"id": message.id, "to": message.to, "text": message.text})
        return smsgate.SendResult(smsgate.Status.WIRED)


@smsgate.hookimpl
def smsgate_register_adapters(register):
    register(StubPost)
'''


class Aggregator:
    """The stub: records every send and webhook; sends after the first `answer_first` wait for `gate`."""

    def __init__(self, port, answer_first):
        self.sends, self.hooks = [], []
        self.answer_first = answer_first
        self.gate = threading.Event()
        self.lock = threading.Lock()
        app = Starlette(routes=[Route("/send", self.send, methods=["POST"]),
                                Route("/hook", self.hook, methods=["POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def send(self, request: Request) -> Response:
        body = await request.json()
        with self.lock:
            self.sends.append(body["id"])
            held = len(self.sends) > self.answer_first
        if held:
            import asyncio

            while not self.gate.is_set():  # hold the request open: the gateway waits for an answer
                await asyncio.sleep(0.01)
        return JSONResponse({"ok": True})

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.hooks.append((dict(request.headers), body))
        return Response(status_code=204)

    def __enter__(self):
        self.thread.start()
        wait_for(lambda: self.server.started, "the stub aggregator to start")
        return self

    def __exit__(self, *exc):
        self.gate.set()
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_for(condition, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Server:
    """`smsgate serve` as a subprocess."""

    def __init__(self, tmp_path, config, port):
        self.args = [sys.executable, "-c", "from smsgate_cli.main import main; main()", "--config", str(config),
                     "serve", "--log-level", "warning"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
        self.env = {**env, "PYTHONPATH": os.pathsep.join(p for p in (str(tmp_path / "site"),
                                                                     env.get("PYTHONPATH", "")) if p),
                    "SMSGATE_LOAD_PLUGINS": "stubpost"}
        self.url = f"http://127.0.0.1:{port}"
        self.log = tmp_path / "serve.log"
        self.proc = None

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT)

        def healthy():
            if self.proc.poll() is not None:
                raise AssertionError(f"smsgate serve exited: {self.log.read_text()[-3000:]}")
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, "smsgate serve to answer /healthz")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=30) == -signal.SIGKILL

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def api(self, method, path, **kwargs):
        return httpx.request(method, f"{self.url}/api/v1{path}", headers={"Authorization": f"Bearer {TOKEN}"},
                             timeout=30, **kwargs)


def make_plugin(site):
    site.mkdir()
    (site / "smsgate_stubpost.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "smsgate_stubpost-1.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: smsgate-stubpost\nVersion: 1.0.0\n")
    (info / "entry_points.txt").write_text("[smsgate]\nstubpost = smsgate_stubpost\n")


def run_kill_restart(tmp_path, retry_on_timeout):
    """Queue N, kill with ANSWERED wired and SLOTS held at the aggregator, restart; return what happened."""
    make_plugin(tmp_path / "site")
    gateway_port, stub_port = free_ports(2)
    database = tmp_path / "smsgate.sqlite3"
    config = tmp_path / "smsgate.toml"
    config.write_text(textwrap.dedent(f"""
        [gateway]
        host = "127.0.0.1"
        port = {gateway_port}
        database = "{database}"
        api_token = "{TOKEN}"
        send_concurrency = {SLOTS}
        send_lease = 1.0

        [[gateway.webhooks]]
        url = "http://127.0.0.1:{stub_port}/hook"
        secret = "{HOOK_SECRET}"

        [channels.stub]
        adapter = "stubpost"
        url = "http://127.0.0.1:{stub_port}/send"
        country = "RW"
        max_attempts = 1
        timeout = 120
        retry_on_timeout = {"true" if retry_on_timeout else "false"}
    """))
    ids = [str(uuid.UUID(int=i + 1)) for i in range(N)]
    server = Server(tmp_path, config, gateway_port)
    with Aggregator(stub_port, answer_first=ANSWERED) as stub:
        try:
            server.start()
            for i, message_id in enumerate(ids):
                response = server.api("POST", "/messages", json={"channel": "stub", "to": "0788383383",
                                                                 "text": f"message {i}", "id": message_id})
                assert response.status_code == 202, response.text
            wait_for(lambda: len(stub.sends) >= ANSWERED + SLOTS, "every worker slot to hold a request")
            server.kill()
            held = stub.sends[ANSWERED:]
            assert len(held) == SLOTS  # every slot was blocked at the aggregator: nothing else could leave
            with sqlite3.connect(database) as db:
                before = dict(db.execute("SELECT id, status || '/' || (sending_at IS NOT NULL) FROM messages"))
            assert sorted(before.values()) == sorted(["wired/0"] * ANSWERED + ["queued/1"] * SLOTS
                                                     + ["queued/0"] * (N - ANSWERED - SLOTS)), before
            assert {i for i, s in before.items() if s == "queued/1"} == set(held)
            stub.answer_first = 10**9  # the aggregator answers everything from now on
            stub.gate.set()
            server.start()

            def settled():
                listed = server.api("GET", "/messages", params={"limit": 100}).json()["messages"]
                return listed if all(m["status"] in ("wired", "failed") for m in listed) else None

            messages = {m["id"]: m for m in wait_for(settled, "every message to be wired or failed")}
            wait_for(lambda: not pending_outbox(database), "the outbox to drain")
        finally:
            server.stop()
    return ids, held, messages, collections.Counter(stub.sends), stub.hooks, server


def pending_outbox(database):
    with sqlite3.connect(database) as db:
        return db.execute("SELECT count(*) FROM outbox WHERE done_at IS NULL").fetchone()[0]


def webhook_statuses(hooks):
    """Per message, the statuses its (signature-checked, de-duplicated by webhook-id) events carried, in order."""
    seen, statuses = set(), collections.defaultdict(list)
    verifier = Webhook(HOOK_SECRET.encode())
    for headers, body in hooks:
        payload = verifier.verify(body, headers)
        if headers["webhook-id"] in seen:  # at-least-once: a delivery cut by the kill may come again
            continue
        seen.add(headers["webhook-id"])
        statuses[payload["data"]["id"]].append(payload["data"]["status"])
    return statuses


def test_sigkill_mid_queue_every_accepted_message_reaches_the_aggregator_exactly_once(tmp_path):
    ids, held, messages, received, hooks, server = run_kill_restart(tmp_path, retry_on_timeout=False)
    assert set(messages) == set(ids)
    assert received == {message_id: 1 for message_id in ids}, "an id reached the aggregator twice or never"
    for message_id in ids:
        message = messages[message_id]
        if message_id in held:  # the aggregator has it, but the gateway cannot know: failed, never repeated
            assert (message["status"], message["error_code"]) == ("failed", "in_doubt")
        else:
            assert message["status"] == "wired", message
    statuses = webhook_statuses(hooks)
    for message_id in ids:
        assert statuses[message_id] == ["queued", "failed" if message_id in held else "wired"]
    assert "Traceback" not in server.log.read_text()


def test_with_retry_on_timeout_the_sends_in_doubt_are_repeated(tmp_path):
    ids, held, messages, received, _hooks, _server = run_kill_restart(tmp_path, retry_on_timeout=True)
    assert all(messages[i]["status"] == "wired" for i in ids)
    # the documented trade-off: at-least-once for the sends that were out when the gateway died
    assert received == {i: 2 if i in held else 1 for i in ids}
