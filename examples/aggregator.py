"""A stand-in SMS aggregator speaking RapidPro's External API protocol, for demos and trying smsgate out.

It does what a real aggregator behind an `http` channel does, on 127.0.0.1, with the standard library only:

- accepts each outgoing message smsgate POSTs to its send URL (answers 200), printing the request as it
  arrived on the wire;
- reports what happened to a message by calling the channel's status routes, `{callback}/sent?id=<id>` and
  `{callback}/delivered?id=<id>`, as an aggregator does once the SMSC answers;
- delivers an incoming message (a phone's reply) to `{callback}/receive` as a form POST.

Run it on its own next to `smsgate serve -c examples/smsgate.toml`:

    python examples/aggregator.py --port 9999 --callback http://127.0.0.1:8080/c/demo

It then reports every message it receives as delivered, after `--delay` seconds. `scripts/demo` drives it
step by step instead (`Aggregator` below).
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# loopback only, and never through a proxy set in the environment
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Aggregator:
    """The stand-in: an HTTP server on 127.0.0.1:`port` whose callbacks go to `callback` (a channel's base URL)."""

    def __init__(self, port: int, callback: str, *, on_send: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.callback = callback.rstrip("/")
        self.sends: list[dict[str, Any]] = []
        self._arrived = threading.Condition()
        self._on_send = on_send
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                send = {"method": self.command, "path": self.path, "version": self.request_version,
                        "headers": list(self.headers.items()), "body": body}
                try:
                    send["json"] = json.loads(body)
                except ValueError:
                    send["json"] = None
                answer = b'{"status": "accepted"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                outer._record(send)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name="aggregator", daemon=True).start()

    def _record(self, send: dict[str, Any]) -> None:
        with self._arrived:
            self.sends.append(send)
            self._arrived.notify_all()
        if self._on_send is not None:
            self._on_send(send)

    def wait_for_send(self, count: int = 1, timeout: float = 20.0) -> dict[str, Any]:
        """The `count`-th send received, waiting for it up to `timeout` seconds."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.sends) >= count, timeout):
                raise TimeoutError(f"the aggregator received {len(self.sends)} send(s) in {timeout:.0f} s")
            return self.sends[count - 1]

    def report(self, message_id: str, status: str) -> tuple[str, int, str]:
        """Call the channel's `status` route (`sent`, `delivered` or `failed`) for `message_id`."""
        url = f"{self.callback}/{status}?{urllib.parse.urlencode({'id': message_id})}"
        return (f"GET {url}", *_call(urllib.request.Request(url)))

    def deliver(self, sender: str, text: str, date: str | None = None) -> tuple[str, int, str]:
        """Deliver an incoming message from `sender` to the channel's `receive` route, as a form POST."""
        form = {"from": sender, "text": text, **({"date": date} if date else {})}
        url = f"{self.callback}/receive"
        request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST")
        return (f"POST {url}", *_call(request))

    def close(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()


def _call(request: urllib.request.Request) -> tuple[int, str]:
    """(status, body) of `request`; an HTTP error status is an answer too."""
    try:
        with _OPENER.open(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def wire_lines(send: dict[str, Any]) -> list[str]:
    """A received send as it arrived: request line, headers, then the body (JSON indented for reading)."""
    lines = [f"{send['method']} {send['path']} {send['version']}"]
    lines += [f"{name}: {value}" for name, value in send["headers"]]
    lines.append("")
    if send["json"] is not None:
        lines += json.dumps(send["json"], indent=2, ensure_ascii=False).splitlines()
    else:
        lines.append(send["body"].decode("utf-8", "replace"))
    return lines


def main() -> None:
    """Serve until interrupted, reporting each message received as delivered after `--delay` seconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9999, help="port to listen on (127.0.0.1)")
    parser.add_argument("--callback", default="http://127.0.0.1:8080/c/demo",
                        help="the channel's callback base URL: {public_url}/c/{channel}")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds before reporting a send delivered")
    args = parser.parse_args()

    def on_send(send: dict[str, Any]) -> None:
        print("\n".join(["--- received:", *wire_lines(send)]), flush=True)
        message_id = (send["json"] or {}).get("id") or urllib.parse.parse_qs(send["body"].decode()).get("id", [""])[0]
        if message_id:
            def later() -> None:
                time.sleep(args.delay)
                for status in ("sent", "delivered"):
                    print(" ".join(str(part) for part in aggregator.report(message_id, status)), flush=True)

            threading.Thread(target=later, daemon=True).start()

    aggregator = Aggregator(args.port, args.callback, on_send=on_send)
    print(f"stand-in aggregator on http://127.0.0.1:{aggregator.port}/send, callbacks to {args.callback}",
          flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        aggregator.close()


if __name__ == "__main__":
    main()
