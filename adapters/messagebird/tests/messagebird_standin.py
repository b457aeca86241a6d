"""OURS, NOT MESSAGEBIRD: a local stand-in for MessageBird's REST API, answering as its API reference documents.

`POST /messages` and `POST /mms` with `Authorization: AccessKey <key>` and a JSON body: 201 with the created message
object (`id`, `href`, `direction`, `originator`, `body`, `reference`, `datacoding`, `recipients` with one item per
recipient, ...); errors as `{"errors": [{"code", "description", "parameter"}]}`: 401 code 2 for another access
key, 422 code 9 for a missing `recipients`/`originator`/`body` (or `body`/`mediaUrls` on /mms), 422 code 10 for a
`datacoding` other than plain, unicode or auto. Which recipient fails how follows our own magic numbers:
+31600000025 not enough balance (402, code 25), +31600000429 rate limited (429), +31600000500 internal error (500,
code 99). Ids are derived from the request, so re-recorded cassettes stay stable. Started by
`tests.support.standin.StandIn` (`python messagebird_standin.py --port N`, stopped by PID); the key it accepts is
the tests' fake one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tests.support.standin import Answer, Received, serve

ACCESS_KEY = "fake-messagebird-key-5d21"
NO_BALANCE = "+31600000025"
RATE_LIMITED = "+31600000429"
SERVER_ERROR = "+31600000500"
CREATED = "2026-01-01T00:00:00+00:00"  # fixed, so recordings do not change with the clock


def _errors(status: int, code: int, description: str, parameter: str | None = None) -> Answer:
    return Answer(status, {"errors": [{"code": code, "description": description, "parameter": parameter}]})


def answer(request: Received) -> Answer:
    """MessageBird's answer to one request."""
    if request.method != "POST" or request.path not in ("/messages", "/mms"):
        return _errors(404, 20, "message not found")
    if request.headers.get("authorization") != f"AccessKey {ACCESS_KEY}":
        return _errors(401, 2, "Request not allowed (incorrect access_key)", "access_key")
    body = request.json()
    if not isinstance(body, dict):
        return _errors(400, 21, "Bad request")
    recipients = body.get("recipients")
    if not isinstance(recipients, list) or not recipients:
        return _errors(422, 9, "no (correct) recipients found", "recipients")
    if not body.get("originator"):
        return _errors(422, 9, "originator is required", "originator")
    mms = request.path == "/mms"
    if not body.get("body") and not (mms and body.get("mediaUrls")):
        return _errors(422, 9, "body is required" if not mms else "body or mediaUrls is required", "body")
    if body.get("datacoding", "plain") not in ("plain", "unicode", "auto"):
        return _errors(422, 10, "datacoding is invalid", "datacoding")
    first = str(recipients[0])
    if first == NO_BALANCE:
        return _errors(402, 25, "Not enough balance")
    if first == RATE_LIMITED:
        return _errors(429, 429, "Too many requests")
    if first == SERVER_ERROR:
        return _errors(500, 99, "Internal error")
    message_id = hashlib.sha256(request.body).hexdigest()[:32]
    items = [{"recipient": int(str(r).lstrip("+")), "status": "sent", "statusDatetime": CREATED} for r in recipients]
    created: dict[str, Any] = {
        "id": message_id, "href": f"https://rest.messagebird.com{request.path}/{message_id}", "direction": "mt",
        "originator": body["originator"], "body": body.get("body"), "reference": body.get("reference"),
        "createdDatetime": CREATED, "scheduledDatetime": None,
        "recipients": {"totalCount": len(items), "totalSentCount": len(items), "totalDeliveredCount": 0,
                       "totalDeliveryFailedCount": 0, "items": items}}
    if mms:
        created.update(subject=body.get("subject"), mediaUrls=body.get("mediaUrls", []))
    else:
        created.update(type="sms", reportUrl=body.get("reportUrl"), validity=None, gateway=10, typeDetails={},
                       datacoding=body.get("datacoding", "plain"), mclass=1)
    return Answer(201, created)


if __name__ == "__main__":
    serve("messagebird", answer)
