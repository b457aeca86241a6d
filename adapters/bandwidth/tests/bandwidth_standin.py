"""OURS, NOT BANDWIDTH: a local stand-in for Bandwidth's Messaging API v2 create-message endpoint, answering as
Bandwidth's public API reference documents it (`POST /api/v2/users/{accountId}/messages`).

- 202 with the created message (`id`, `owner`, `applicationId`, `time`, `segmentCount`, `direction`, `to`,
  `from`, `text`, `media`, `tag`, `priority`) for a valid request; the id is derived from the body, so it is
  distinct per part and stable across re-recordings, and `time` is fixed for the same reason;
- errors as `{"type", "description"}`: 401 `unauthorized` (wrong basic auth), 403 `forbidden` (another
  account's path), 415 `unsupported-content-type`, 400 `request-validation` with `fieldErrors` (unknown
  application, no `to`/`from`, neither text nor media, text over 2048 characters), 404 with Spring's body for
  any other path;
- and, for the error classes a test cannot provoke otherwise, two numbers of our own: `QUEUE_FULL` answers 429
  `max-message-queue-size-exceeded`, `SERVER_ERROR` answers 503.

It accepts one account, API user and messaging application (the constants below, the tests' fake ones). Every
answer carries `Server: smsgate-standin-bandwidth`; `tests.support.standin.StandIn` starts it and stops it by PID.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from tests.support.standin import Answer, Received, serve

__all__ = ["ACCOUNT", "APPLICATION_ID", "PASSWORD", "QUEUE_FULL", "SERVER_ERROR", "USERNAME", "answer"]

ACCOUNT, USERNAME, PASSWORD = "9900001", "api-user", "bw-api-password-0123"
APPLICATION_ID = "93de2206-9669-4e07-948d-329f4b722ee2"
QUEUE_FULL = "+19195550429"
SERVER_ERROR = "+19195550503"

_AUTHORIZATION = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
_PATH = re.compile(r"^/api/v2/users/([^/?]+)/messages$")
_GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
            "abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")


def _error(status: int, kind: str, description: str, **extra: Any) -> Answer:
    return Answer(status, {"type": kind, "description": description, **extra})


def _segments(text: str) -> int:
    if all(c in _GSM7 for c in text):
        size = sum(2 if c in "^{}\\[~]|€" else 1 for c in text)
        return 1 if size <= 160 else -(-size // 153)
    units = len(text.encode("utf-16-be")) // 2
    return 1 if units <= 70 else -(-units // 67)


def answer(request: Received) -> Answer:
    """Bandwidth's documented answer to one request."""
    match = _PATH.match(request.path)
    if request.method != "POST" or match is None:
        return Answer(404, {"timestamp": "2026-01-01T00:00:00.000+0000", "status": 404, "error": "Not Found",
                            "message": "", "path": request.path})
    if request.headers.get("authorization") != _AUTHORIZATION:
        return _error(401, "unauthorized", "Authentication Failed")
    if match.group(1) != ACCOUNT:
        return _error(403, "forbidden", "Access Denied")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _error(415, "unsupported-content-type", "Content-Type must be application/json")
    body = request.json()
    if body is None:
        return _error(400, "request-validation", "Your request could not be accepted")
    problems = validate(body)
    if problems:
        return _error(400, "request-validation", "Your request could not be accepted",
                      fieldErrors=[{"fieldName": f, "description": d} for f, d in problems])
    to = body["to"][0]
    if to == QUEUE_FULL:
        return _error(429, "max-message-queue-size-exceeded",
                      "The SMS queue for your account is full and cannot accept more messages right now.")
    if to == SERVER_ERROR:
        return _error(503, "service-unavailable", "The service is temporarily unavailable")
    text = body.get("text", "")
    created = {"id": hashlib.sha256(request.body).hexdigest()[:29], "owner": body["from"],
               "applicationId": body["applicationId"], "time": "2026-01-01T00:00:00.000Z",
               "segmentCount": _segments(text), "direction": "out", "to": body["to"], "from": body["from"],
               "text": text, "priority": body.get("priority", "default")}
    for optional in ("media", "tag"):
        if optional in body:
            created[optional] = body[optional]
    return Answer(202, created)


def validate(body: Any) -> list[tuple[str, str]]:
    """The field errors of a create-message body, as Bandwidth's request validation reports them."""
    if not isinstance(body, dict):
        return [("body", "must be a JSON object")]
    problems = []
    if body.get("applicationId") != APPLICATION_ID:
        problems.append(("applicationId", "must be a messaging application of this account"))
    to = body.get("to")
    if not (isinstance(to, list) and to and all(isinstance(n, str) and n for n in to)):
        problems.append(("to", "must be a non-empty list of numbers"))
    if not isinstance(body.get("from"), str) or not body.get("from"):
        problems.append(("from", "is required"))
    text, media = body.get("text", ""), body.get("media")
    if not isinstance(text, str) or len(text) > 2048:
        problems.append(("text", "must be at most 2048 characters"))
    elif not text and not media:
        problems.append(("text", "text or media is required"))
    return problems


if __name__ == "__main__":
    serve("bandwidth", answer)
