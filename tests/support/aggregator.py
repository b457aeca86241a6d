"""A stub aggregator for whole-system tests: a threaded HTTP server on 127.0.0.1 that counts what gateways send it.

`smsgate serve` processes (tests/system/test_crash_safety.py, test_instances.py) post their sends to
`<url>/send/<name>` (an http channel whose JSON body carries `{{id}}`) and their webhooks to any other path; the
stub counts each send per message id and per `<name>`, and each webhook delivery per `webhook-id`. A send is
answered `200 ok` after `delay` seconds, once `gate` is set: a stub built `held=True` keeps every send waiting
until the test sets it, so the test decides when sending really starts.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["StubAggregator"]


class StubAggregator:
    """Counts sends per message id (`sends`) and per path's last segment (`by_instance`), and webhook deliveries
    per webhook-id (`hooks`, with each event's `(message id, status)` in `hook_events`)."""

    def __init__(self, delay: float = 0.0, *, held: bool = False) -> None:
        self.sends: collections.Counter[str] = collections.Counter()
        self.by_instance: collections.Counter[str] = collections.Counter()
        self.in_flight: collections.Counter[str] = collections.Counter()  # sends received, not yet answered
        self.hooks: collections.Counter[str] = collections.Counter()
        self.hook_events: set[tuple[str, str]] = set()
        self.lock = threading.Lock()
        self.gate = threading.Event()
        if not held:
            self.gate.set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                send = self.path.startswith("/send")
                instance = self.path.rsplit("/", 1)[1]
                with outer.lock:
                    if send:
                        outer.sends[json.loads(body)["id"]] += 1
                        outer.by_instance[instance] += 1
                        outer.in_flight[instance] += 1
                    else:
                        outer.hooks[self.headers["webhook-id"]] += 1
                        data = json.loads(body)["data"]
                        outer.hook_events.add((data.get("id") or "", data.get("status") or "received"))
                if send:
                    outer.gate.wait(30)
                    time.sleep(delay)
                    with outer.lock:
                        outer.in_flight[instance] -= 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def total(self) -> int:
        """Sends received so far (a message sent twice counts twice)."""
        with self.lock:
            return sum(self.sends.values())

    def busy(self, instance: str) -> bool:
        """Whether `instance` has a send here that is not answered yet."""
        with self.lock:
            return self.in_flight[instance] > 0

    def close(self) -> None:
        """Let held sends go, then stop serving and close the socket."""
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()
