"""OURS, NOT TWILIO: a tiny local stand-in for the Twilio error answers that Prism cannot produce.

Prism only returns what the OpenAPI contract declares (201, 401, 422), so the error bodies and status codes
the adapter must map come from this server instead. Every answer carries `Server: smsgate-fake-twilio`, so a
cassette recorded from it says where it came from. Shapes follow Twilio's documented error JSON
(`{"code", "message", "more_info", "status"}`); which `To` numbers fail follows Twilio's test-credential
"magic numbers" (+15005550001 invalid, +15005550004 opted out, +15005550009 not mobile), plus two of our own
for rate limiting and server errors. Standard library only; runs in a thread on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeTwilioErrors", "INVALID_NUMBER", "NOT_MOBILE", "OPTED_OUT", "RATE_LIMITED", "SERVER_ERROR"]

INVALID_NUMBER = "+15005550001"  # Twilio magic number → 21211
OPTED_OUT = "+15005550004"  # Twilio magic number → 21610
NOT_MOBILE = "+15005550009"  # Twilio magic number → 21614
RATE_LIMITED = "+15005550429"  # ours → HTTP 429, code 20429, Retry-After: 2
SERVER_ERROR = "+15005550500"  # ours → HTTP 500, code 20500

_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
_FAILURES: dict[str, tuple[int, int, str]] = {
    INVALID_NUMBER: (400, 21211, "The 'To' number {to} is not a valid phone number."),
    OPTED_OUT: (400, 21610, "Attempt to send to unsubscribed recipient"),
    NOT_MOBILE: (400, 21614, "'To' number is not a valid mobile number"),
    RATE_LIMITED: (429, 20429, "Too Many Requests"),
    SERVER_ERROR: (500, 20500, "Internal Server Error"),
}


class FakeTwilioErrors:
    """Context manager: `with FakeTwilioErrors(sid, token) as server: server.url` (http://127.0.0.1:N)."""

    def __init__(self, account_sid: str, auth_token: str, port: int = 0) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "smsgate-fake-twilio"
            sys_version = "(tests, not Twilio)"

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload, headers = outer.answer(self.path, dict(self.headers), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-twilio", daemon=True)

    def __enter__(self) -> FakeTwilioErrors:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Twilio's answer to one create-message request: (status, JSON body, extra headers)."""
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        self.requests.append({"path": path, "form": form})
        match = _PATH.match(urllib.parse.urlsplit(path).path)
        if match is None:
            return 404, _error(20404, "The requested resource was not found", 404), {}
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth != expected or match.group(1) != self.account_sid:
            return 401, _error(20003, "Authenticate", 401), {}
        to = (form.get("To") or [""])[0]
        if not to:
            return 400, _error(21604, "A 'To' phone number is required.", 400), {}
        if to in _FAILURES:
            status, code, message = _FAILURES[to]
            extra = {"Retry-After": "2"} if status == 429 else {}
            return status, _error(code, message.format(to=to), status), extra
        sid = "SM" + hashlib.sha256(body).hexdigest()[:32]  # distinct per part, stable across re-recordings
        return 201, {"sid": sid, "account_sid": self.account_sid, "status": "queued", "to": to,
                     "from": (form.get("From") or [None])[0], "body": (form.get("Body") or [""])[0],
                     "num_segments": "1", "num_media": str(len(form.get("MediaUrl", []))),
                     "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"}, {}


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}
