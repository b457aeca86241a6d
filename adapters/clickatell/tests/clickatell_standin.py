"""OURS, NOT CLICKATELL: a local stand-in for Clickatell's Platform HTTP API, answering as its reference documents.

`GET /messages/http/send?apiKey=&to=&content=&from=`: 202 with one accepted message
(`{"messages": [{"apiMessageId", "accepted": true, "to", "errorCode": null, ...}], "errorCode": null, ...}`);
a request-level error puts `errorCode`/`error`/`errorDescription` on the answer (401 for another API key, 400 for
a missing parameter or a `from` that is not the integration's number, 402 out of credit, 429 rate limit, 503
internal error, retry); a message-level error puts them on the message (`accepted: false`, 400). Which `to` fails
how follows our own magic numbers: 27999000025 invalid recipient, 27999000026 opted out, 27999000020 out of credit,
27999000043 rate limited, 27999000019 internal error. Ids are derived from the request, so re-recorded cassettes
stay stable. Started by `tests.support.standin.StandIn` (`python clickatell_standin.py --port N`, stopped by PID);
the key it accepts is the tests' fake one.
"""

from __future__ import annotations

import hashlib

from tests.support.standin import Answer, Received, serve

API_KEY = "fake-clickatell-key-73a9"
FROM = "2020"
INVALID_RECIPIENT = "27999000025"
OPTED_OUT = "27999000026"
NO_CREDIT = "27999000020"
RATE_LIMITED = "27999000043"
RETRY_LATER = "27999000019"

_REQUEST_ERRORS = {
    NO_CREDIT: (402, 20, "Insufficient account balance."),
    RATE_LIMITED: (429, 43, "Rate limit reached."),
    RETRY_LATER: (503, 19, "Internal error, please retry."),
}
_MESSAGE_ERRORS = {
    INVALID_RECIPIENT: (25, "Invalid recipient address."),
    OPTED_OUT: (26, "Recipient opted out."),
}
_NO_ERROR = {"errorCode": None, "error": None, "errorDescription": None}



def _param(request: Received, name: str) -> str:
    return request.query.get(name, [""])[0]


def _request_error(status: int, code: int, text: str) -> Answer:
    return Answer(status, {"messages": [], "errorCode": code, "error": text, "errorDescription": text})


def answer(request: Received) -> Answer:
    """Clickatell's answer to one request."""
    if request.method != "GET" or request.path != "/messages/http/send":
        return _request_error(404, 41, "Resource does not exist.")
    if _param(request, "apiKey") != API_KEY:
        return _request_error(401, 1, "Invalid or missing Integration API Key.")
    to, content = _param(request, "to"), _param(request, "content")
    if not to or not content:
        return _request_error(400, 23, "Invalid or missing parameter.")
    if _param(request, "from") != FROM:
        return _request_error(400, 45, "FROM number is not related to integration.")
    if to in _REQUEST_ERRORS:
        return _request_error(*_REQUEST_ERRORS[to])
    if to in _MESSAGE_ERRORS:
        code, text = _MESSAGE_ERRORS[to]
        return Answer(400, {"messages": [{"apiMessageId": None, "accepted": False, "to": to, "errorCode": code,
                                         "error": text, "errorDescription": text}], **_NO_ERROR})
    message_id = hashlib.sha256(request.raw_query.encode()).hexdigest()[:32]
    return Answer(202, {"messages": [{"apiMessageId": message_id, "accepted": True, "to": to, **_NO_ERROR}],
                       **_NO_ERROR})


if __name__ == "__main__":
    serve("clickatell", answer)
