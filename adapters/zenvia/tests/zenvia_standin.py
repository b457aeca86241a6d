"""OURS, NOT ZENVIA: a local stand-in for Zenvia's API v2 SMS send endpoint, answering as Zenvia's public API
reference (its OpenAPI description) documents it (`POST /v2/channels/sms/messages`, `X-API-TOKEN`).

- 200 with the created message (`id`, `from`, `to`, `direction`, `channel`, `contents`, `timestamp`, and
  `externalId` when sent) for a valid request; the id is derived from the body, so it is stable across
  re-recordings, and `timestamp` is fixed for the same reason;
- errors as `{"code", "message", "details": [{"code", "path", "message"}]}`: 401 `AUTHENTICATION_ERROR` (a
  wrong token), 400 `VALIDATION_ERROR` (a sender that is not one of the account's aliases, a recipient that is
  not digits, no contents, a content that is not text, more than 1520 characters), 404 `NOT_FOUND` for any
  other path;
- and, for the error classes a test cannot provoke otherwise, two numbers of our own: `RATE_LIMITED` answers 429
  (Zenvia does not document one), `SERVER_ERROR` answers 500 `INTERNAL_ERROR`.

It accepts one API token and the account's sender aliases (the constants below, the tests' fake ones). Every
answer carries `Server: smsgate-standin-zenvia`; `tests.support.standin.StandIn` starts it and stops it by PID.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from tests.support.standin import Answer, Received, serve

__all__ = ["ALIASES", "RATE_LIMITED", "SERVER_ERROR", "TOKEN", "answer"]

TOKEN = "zv-api-token-0123456789"
ALIASES = ("smsgate",)
RATE_LIMITED = "5511900000429"
SERVER_ERROR = "5511900000500"


def _error(status: int, code: str, message: str, details: list[tuple[str, str, str]] | None = None) -> Answer:
    return Answer(status, {"code": code, "message": message,
                           "details": [{"code": c, "path": p, "message": m} for c, p, m in details or []]})


def answer(request: Received) -> Answer:
    """Zenvia's documented answer to one request."""
    if request.method != "POST" or request.path != "/v2/channels/sms/messages":
        return _error(404, "NOT_FOUND", "Resource not found")
    if request.headers.get("x-api-token") != TOKEN:
        return _error(401, "AUTHENTICATION_ERROR", "No or invalid API token")
    body = request.json()
    if body is None:
        return _error(400, "VALIDATION_ERROR", "Validation error", [("INVALID_JSON", "body", "not JSON")])
    problems = validate(body)
    if problems:
        return _error(400, "VALIDATION_ERROR", "Validation error", problems)
    if body["to"] == RATE_LIMITED:
        return Answer(429, {"code": "TOO_MANY_REQUESTS", "message": "Too many requests"})
    if body["to"] == SERVER_ERROR:
        return _error(500, "INTERNAL_ERROR", "Internal error")
    created: dict[str, Any] = {"id": str(uuid.UUID(hashlib.sha256(request.body).hexdigest()[:32])),
                               "from": body["from"], "to": body["to"], "direction": "OUT", "channel": "sms",
                               "contents": body["contents"], "timestamp": "2026-01-01T00:00:00.000Z"}
    if "externalId" in body:
        created["externalId"] = body["externalId"]
    return Answer(200, created)


def validate(body: Any) -> list[tuple[str, str, str]]:
    """The validation errors of a send body, as Zenvia's `details` list them."""
    if not isinstance(body, dict):
        return [("INVALID_TYPE", "body", "must be an object")]
    problems = []
    if body.get("from") not in ALIASES:
        problems.append(("INVALID_VALUE", "from", "must be one of the account's SMS aliases"))
    if not isinstance(body.get("to"), str) or not re.fullmatch(r"\d{8,15}", body["to"]):
        problems.append(("INVALID_VALUE", "to", "must be a phone number with country code, digits only"))
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return [*problems, ("REQUIRED", "contents", "at least one content is required")]
    total = 0
    for index, content in enumerate(contents):
        if not isinstance(content, dict) or content.get("type") != "text" or not content.get("text"):
            problems.append(("INVALID_VALUE", f"contents[{index}]", "the SMS channel takes non-empty text"))
        else:
            total += len(content["text"])
    if total > 1520:
        problems.append(("MAX_LENGTH", "contents", "an SMS may have at most 1520 characters"))
    return problems


if __name__ == "__main__":
    serve("zenvia", answer)
