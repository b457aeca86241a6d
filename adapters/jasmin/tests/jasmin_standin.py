"""OURS, NOT JASMIN: a local stand-in for a Jasmin 0.11 HTTP API's `/send`, answering as Jasmin's HTTP API
documentation describes it and as a real Jasmin 0.11.0 was seen to answer (text/plain bodies):

- 200 `Success "<uuid>"` for a valid request; the uuid is derived from the request (credentials left out), so it
  is stable across re-recordings;
- 400 `Error "..."` for what Jasmin's argument validation refuses: an unknown argument, a missing `username`,
  `password` or `to`, a `to` that is not digits, `content` and `hex-content` both or neither, bad hex, a bad
  `coding`, `dlr-level` or `dlr-method`, `dlr=yes` without a `dlr-url`;
- 403 `Error "Authentication failure for username:<user>"` for wrong credentials;
- and, for the error classes a test cannot provoke otherwise, numbers of our own: `THROTTLED` answers 403
  `User throughput exceeded`, `NO_ROUTE` 412 `No route found`, `SERVER_ERROR` 500 `Cannot send submit_sm, ...`.

`parts(request)` counts the SMS parts Jasmin would make of a request's text (153 GSM-7 septets or 67 UCS-2 units a
part above one SMS), as the live test checks of every accepted call: a real Jasmin silently drops everything past
`long_content_max_parts` (5). It accepts one HTTP API user (the constants below, the tests' fake ones). Every
answer carries `Server: smsgate-standin-jasmin`; `tests.support.standin.StandIn` starts it and stops it by PID.
"""

from __future__ import annotations

import re
import urllib.parse
import uuid
from typing import Any

from tests.support.standin import Answer, Received, serve

__all__ = ["NO_ROUTE", "PASSWORD", "SERVER_ERROR", "THROTTLED", "USERNAME", "answer", "parts"]

USERNAME, PASSWORD = "smsgate", "js-http-pass-01"
THROTTLED = "250788000403"
NO_ROUTE = "250788000412"
SERVER_ERROR = "250788000500"

_KNOWN = {"username", "password", "to", "from", "coding", "content", "hex-content", "priority", "sdt",
          "validity-period", "dlr", "dlr-url", "dlr-level", "dlr-method", "tags"}
_GSM_EXTENDED = "^{}\\[~]|€\f"
_PLAIN = {"Content-Type": "text/plain"}  # as a real Jasmin 0.11.0 labels its answers, without a charset


def _error(status: int, sentence: str) -> Answer:
    return Answer(status, f'Error "{sentence}"', _PLAIN)


def _pairs(method: str, raw_query: str, body: str) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(raw_query if method == "GET" else body, keep_blank_values=True)


def parts(received: dict[str, Any]) -> int:
    """The SMS parts Jasmin makes of one request as `StandIn.received()` lists it."""
    args = dict(_pairs(received["method"], received["raw_query"], received["body"]))
    if "hex-content" in args:
        units = len(args["hex-content"]) // 4
        return 1 if units <= 70 else -(-units // 67)
    septets = sum(2 if c in _GSM_EXTENDED else 1 for c in args.get("content", ""))
    return 1 if septets <= 160 else -(-septets // 153)


def answer(request: Received) -> Answer:
    """Jasmin's answer to one /send."""
    if request.path != "/send":
        return Answer(404, "No Such Resource", _PLAIN)
    pairs = _pairs(request.method, request.raw_query, request.body.decode("utf-8", "replace"))
    args = dict(pairs)
    unknown = [k for k, _ in pairs if k not in _KNOWN]
    if unknown:
        return _error(400, f"Argument [{unknown[0]}] is unknown.")
    for name in ("username", "password", "to"):
        if name not in args:
            return _error(400, f"Mandatory argument [{name}] is not found.")
    problem = invalid(args)
    if problem:
        return _error(400, problem)
    if (args["username"], args["password"]) != (USERNAME, PASSWORD):
        return _error(403, f"Authentication failure for username:{args['username']}")
    to = args["to"].lstrip("+")
    if to == THROTTLED:
        return _error(403, "User throughput exceeded")
    if to == NO_ROUTE:
        return _error(412, "No route found")
    if to == SERVER_ERROR:
        return _error(500, "Cannot send submit_sm, check SMPPClientManagerPB log file for details")
    seed = "&".join(f"{k}={v}" for k, v in sorted(pairs) if k not in ("username", "password"))
    return Answer(200, f'Success "{uuid.uuid5(uuid.NAMESPACE_URL, seed)}"', _PLAIN)


def invalid(args: dict[str, str]) -> str | None:
    """Why Jasmin's argument validation refuses `args`, or None."""
    if not re.fullmatch(r"\+?\d+", args["to"]):
        return f"Argument [to] has an invalid value: [{args['to']}]."
    if "content" in args and "hex-content" in args:
        return "content and hex-content cannot be used both in same request."
    if "content" not in args and "hex-content" not in args:
        return "content or hex-content not present."
    if "hex-content" in args and not re.fullmatch(r"(?:[0-9a-fA-F]{2})+", args["hex-content"]):
        return f"Invalid hex-content data: '{args['hex-content'].encode()!r}'"
    if "coding" in args and args["coding"] not in {str(n) for n in range(15)}:
        return f"Argument [coding] has an invalid value: [{args['coding']}]."
    if args.get("dlr") == "yes" and "dlr-url" not in args:
        return "Mandatory argument [dlr-url] is not found."
    if "dlr-level" in args and args["dlr-level"] not in ("1", "2", "3"):
        return f"Argument [dlr-level] has an invalid value: [{args['dlr-level']}]."
    if "dlr-method" in args and args["dlr-method"].upper() not in ("GET", "POST"):
        return f"Argument [dlr-method] has an invalid value: [{args['dlr-method']}]."
    return None


if __name__ == "__main__":
    serve("jasmin", answer)
