"""Aggregator stand-ins: small HTTP servers answering as an aggregator's API reference documents, run as a
subprocess on 127.0.0.1 and stopped by PID, for the catalogue adapters' cassettes and live tests.

An adapter's `tests/<name>_standin.py` defines `answer(received) -> Answer` and ends with
`serve("<name>", answer)`. `StandIn(script)` runs it (`python <script> --port N`), waits until
`GET /_standin/ready` answers, reads back what it received with `received()` (each request with the status it
was answered), and stops it by PID. Every answer carries `Server: smsgate-standin-<name>`, so a cassette recorded
from it says where it came from. An adapter's tests import its script for its constants (credentials, the numbers
that fail); starting it is `StandIn`'s job, so every stand-in is one child process with a PID.

`SendCase` and `run_send_case` send one message through a harness over real HTTP (what vcrpy records and
replays) and check what the channel log shows was sent (secrets masked) and what was stored.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .peers.process import LOOPBACK, REPO_ROOT, Peer, free_port, http_get

__all__ = ["NOMINAL_URL", "Answer", "Received", "SendCase", "StandIn", "body_of", "recording_url", "run_send_case",
           "serve"]

NOMINAL_URL = "http://127.0.0.1:4010"
"""The stand-in's URL while replaying cassettes: never contacted, and cassettes match without the port."""


@dataclass
class Received:
    """One request the stand-in received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    raw_query: str = ""  # as sent: its order and repeats, for stand-ins that derive ids from it or read pairs

    def pairs(self) -> list[tuple[str, str]]:
        """The query's pairs in the order sent, repeats kept."""
        return urllib.parse.parse_qsl(self.raw_query, keep_blank_values=True)

    def form(self) -> dict[str, str]:
        """The urlencoded body, first value per key."""
        return {k: v[0] for k, v in urllib.parse.parse_qs(self.body.decode("utf-8", "replace"),
                                                          keep_blank_values=True).items()}

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view, as `StandIn.received()` returns it."""
        return {"method": self.method, "path": self.path, "query": self.query, "raw_query": self.raw_query,
                "headers": self.headers, "body": self.body.decode("utf-8", "replace")}


@dataclass
class Answer:
    """What the stand-in answers: a dict or list body is sent as JSON, text as it is."""

    status: int
    body: Any = ""
    headers: dict[str, str] = field(default_factory=dict)


def serve(name: str, answer: Callable[[Received], Answer], argv: list[str] | None = None) -> None:
    """Serve `answer` on 127.0.0.1:`--port` until killed (the script's main)."""
    parser = argparse.ArgumentParser(description=f"a local stand-in for {name}'s API (tests only)")
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args(argv).port
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        server_version = f"smsgate-standin-{name}"
        sys_version = "(tests, not the real API)"
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def handle_any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            split = urllib.parse.urlsplit(self.path)
            if split.path == "/_standin/ready":
                return self.reply(Answer(200, {"ready": True}))
            if split.path == "/_standin/received":
                with lock:
                    return self.reply(Answer(200, list(seen)))
            received = Received(self.command, split.path, urllib.parse.parse_qs(split.query, keep_blank_values=True),
                                {k.lower(): v for k, v in self.headers.items()}, body, split.query)
            try:
                result = answer(received)
            except Exception as exc:  # a bug in the stand-in: say so, as a 599 no real API answers
                result = Answer(599, {"standin_error": f"{type(exc).__name__}: {exc}"})
            with lock:  # with the status, so a test can tell what the stand-in accepted from what it refused
                seen.append({**received.as_dict(), "status": result.status})
            self.reply(result)

        def reply(self, result: Answer) -> None:
            if isinstance(result.body, dict | list):
                data, ctype = json.dumps(result.body, ensure_ascii=False).encode(), "application/json"
            else:
                data = result.body.encode() if isinstance(result.body, str) else result.body
                ctype = "text/plain; charset=utf-8"
            self.send_response(result.status)
            headers = {"Content-Type": ctype, **result.headers, "Content-Length": str(len(data))}
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = handle_any

    server = ThreadingHTTPServer((LOOPBACK, port), Handler)
    server.daemon_threads = True
    print(f"{name} stand-in on http://{LOOPBACK}:{port}", flush=True)
    server.serve_forever()


class StandIn(Peer):
    """An adapter's stand-in script as a subprocess on 127.0.0.1: `with StandIn(script) as s: s.url`."""

    name = "standin"

    def __init__(self, script: Path, *, startup_timeout: float = 20.0) -> None:
        super().__init__(startup_timeout=startup_timeout, workdir=None, keep_workdir=False)
        self.script = Path(script)
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"

    def _start(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
        self._spawn(self.script.stem, [sys.executable, str(self.script), "--port", str(self.port)], cwd=REPO_ROOT,
                    env=env)
        self._wait("GET /_standin/ready == 200", lambda: http_get(self.url + "/_standin/ready", 1.0)[0] == 200,
                   deadline)

    def received(self) -> list[dict[str, Any]]:
        """Every request the stand-in received so far, oldest first, each with the `status` it answered."""
        status, body = http_get(self.url + "/_standin/received", 5.0)
        assert status == 200, body
        return list(json.loads(body))


def recording_url(record_mode: str, script: Path) -> Iterator[str]:
    """For a module fixture: a started stand-in's URL while recording (`--record-mode` other than none), else
    `NOMINAL_URL`, which replaying never contacts."""
    if (record_mode or "none") == "none":
        yield NOMINAL_URL
        return
    with StandIn(script) as standin:
        yield standin.url


# -- sending through a harness over real HTTP ------------------------------------------------------------


@dataclass
class SendCase:
    """One send to the stand-in: what each request must carry (as the channel log shows it, secrets masked)
    and what the message must become."""

    id: str
    sent: list[Any]
    text: str = "Hello from smsgate"
    to: str = "+250788383383"
    attachments: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    status: str = "wired"
    error_code: str | None = None
    http_statuses: list[int] = field(default_factory=lambda: [200])
    paths: list[str] | None = None
    external_ids: list[str] | None = None
    opt_outs: list[str] = field(default_factory=list)
    segments: int | None = None


def body_of(trace: dict[str, Any]) -> Any:
    """A logged request's body: JSON parsed, a form as a dict (a repeated key's values in a list), else text."""
    body = trace["request_body"]
    ctype = next((v for k, v in trace["request_headers"].items() if k.lower() == "content-type"), "")
    if "json" in ctype:
        return json.loads(body)
    if "x-www-form-urlencoded" in ctype:
        out: dict[str, Any] = {}
        for key, value in urllib.parse.parse_qsl(body, keep_blank_values=True):
            out[key] = [*out[key], value] if isinstance(out.get(key), list) else \
                [out[key], value] if key in out else value
        return out
    return body


def run_send_case(factory: Callable[..., Any], adapter: type, channel: dict[str, Any], case: SendCase,
                  base_url: str, secrets: list[str], message_id: str) -> Any:
    """Send `case` through the real pipeline over real HTTP to `base_url`, check what was sent and stored, and
    that no secret is in a log; returns the harness."""
    import httpx
    from smsgate.testing import assert_no_secrets

    settings = {"adapter": adapter.name, "base_url": base_url, "max_attempts": 1, "max_retry_wait": 0,
                **channel, **case.settings}
    harness = factory({"test": settings}, adapters=[adapter], transport=httpx.AsyncHTTPTransport())
    outcome = harness.send("test", case.to, case.text, id=message_id, attachments=case.attachments)
    message = outcome.message
    assert message.status == case.status, (case.id, message.error_code, message.error_reason)
    assert message.error_code == case.error_code, (case.id, message.error_reason)
    traces = [t for log in reversed(harness.logs(message_id=message_id)) for t in log["traces"]]
    assert [t["status_code"] for t in traces] == case.http_statuses, (case.id, traces)
    assert [body_of(t) for t in traces] == case.sent, case.id
    if case.paths is not None:
        assert [urllib.parse.urlsplit(t["url"]).path for t in traces] == case.paths, case.id
    assert all(t["url"].startswith(base_url + "/") for t in traces), case.id
    if case.external_ids is not None:
        assert message.external_ids == case.external_ids, (case.id, message.external_ids)
    if case.segments is not None:
        assert message.segments == case.segments, (case.id, message.segments)
    assert [o["address"] for o in harness.opt_outs()] == case.opt_outs, case.id
    assert_no_secrets(harness, secrets)
    return harness
