"""OURS, NOT THE AGGREGATOR'S: the HTTP server under the local stand-ins that catalogue adapters record cassettes
against (adapters/<name>/tests/<name>_standin.py).

A stand-in answers as the aggregator's public API reference documents (success, each error class, multi-part,
unicode); this module only serves it: a threaded HTTP server on 127.0.0.1, each request kept in `requests`, and
every answer carrying `Server: smsgate-standin-<name> (tests, not <aggregator>)` so a cassette says where it came
from. Standard library only; started and stopped in-process (a thread), so no PID outlives a test.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["Answer", "Seen", "StandIn"]


@dataclass
class Seen:
    """One request the stand-in received, as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    """What the stand-in sends back."""

    status: int
    body: bytes | str = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class StandIn:
    """Context manager: `with Sub() as s: s.url` (http://127.0.0.1:N); subclasses implement `answer`."""

    name = "standin"
    aggregator = "the aggregator"

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            server_version = f"smsgate-standin-{outer.name}"
            sys_version = f"(tests, not {outer.aggregator})"
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def handle_any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with outer.lock:
                    outer.requests.append(seen)
                answer = outer.answer(seen)
                data = answer.body.encode() if isinstance(answer.body, str) else answer.body
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(data)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = handle_any

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"standin-{self.name}", daemon=True)

    def answer(self, request: Seen) -> Answer:
        """The aggregator's answer to `request`."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
