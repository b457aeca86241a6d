"""Local stand-ins for aggregators' HTTP APIs: a script answers as the API reference documents, a peer runs it.

An adapter's stand-in (`adapters/<name>/tests/fake_<name>.py`) is a small standard-library script that calls
`serve(answer, name)`: `answer` gets each request and returns (status, headers, body). `serve` keeps every
request it answered, which `GET /_standin/requests` lists as JSON (so a test, or a `smsgate send` in another
process, can be checked against what the stand-in really received), and stamps `Server: smsgate-fake-<name>` on
every answer so a cassette recorded from it says where it came from.

`StandIn(script)` is the peer the tests use: it starts the script as a child process on a free 127.0.0.1 port,
waits until it answers, and stops it by PID (`tests/support/peers/process.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .peers.process import LOOPBACK, REPO_ROOT, Peer, free_port, http_get

__all__ = ["Answer", "Request", "StandIn", "serve"]

REQUESTS_PATH = "/_standin/requests"


class Request:
    """One request as the stand-in received it."""

    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        split = urllib.parse.urlsplit(target)
        self.method, self.path, self.headers, self.body = method, split.path, headers, body
        self.query = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
        self.raw_query = split.query

    def param(self, name: str) -> str:
        """The first query value of `name` ('' when absent)."""
        return next((v for k, v in self.query if k == name), "")

    def json(self) -> Any:
        """The body as JSON (None when it is not)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def as_dict(self) -> dict[str, Any]:
        """What `GET /_standin/requests` lists for it."""
        return {"method": self.method, "path": self.path, "query": self.raw_query, "headers": self.headers,
                "body": self.body.decode("utf-8", "replace")}


Answer = tuple[int, dict[str, str], bytes]


def serve(answer: Callable[[Request], Answer], name: str) -> None:
    """Run a stand-in on `--port` (127.0.0.1) until SIGTERM; `answer` decides every response."""
    parser = argparse.ArgumentParser(description=f"smsgate's local stand-in for {name}'s API (tests only)")
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        server_version = f"smsgate-fake-{name}"
        sys_version = "(tests, not the real API)"
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # the peer's log file keeps one line per request instead
            pass

        def handle_one(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.command == "GET" and self.path == REQUESTS_PATH:
                with lock:
                    status, headers, data = 200, {"Content-Type": "application/json"}, json.dumps(seen).encode()
            else:
                request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                status, headers, data = answer(request)
                with lock:
                    seen.append(request.as_dict())
                print(f"{self.command} {self.path} -> {status}", flush=True)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = handle_one

    server = ThreadingHTTPServer((LOOPBACK, port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"listening on {LOOPBACK}:{port}", flush=True)
    server.serve_forever()
    server.server_close()


class StandIn(Peer):
    """An adapter's stand-in script run as a child process on 127.0.0.1: `with StandIn(path) as s: s.url`."""

    def __init__(self, script: Path, *, startup_timeout: float = 20.0) -> None:
        self.name = f"standin-{script.stem}"
        super().__init__(startup_timeout=startup_timeout, workdir=None, keep_workdir=False)
        self.script = script
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"

    def _start(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        # the scripts import this module as tests.support.standin: the repository root is their path
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
        self._spawn(self.name, [sys.executable, str(self.script), "--port", str(self.port)], cwd=REPO_ROOT, env=env)
        self._wait(f"GET {REQUESTS_PATH}", lambda: http_get(self.url + REQUESTS_PATH, 1.0)[0] == 200, deadline)

    def requests(self) -> list[dict[str, Any]]:
        """Every request the stand-in answered so far, oldest first."""
        status, body = http_get(self.url + REQUESTS_PATH)
        assert status == 200, body
        return list(json.loads(body))
