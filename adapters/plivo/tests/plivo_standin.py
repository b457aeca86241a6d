"""OURS, NOT PLIVO: a local stand-in for Plivo's Message API, answering as Plivo's API reference documents.

`POST /v1/Account/{auth_id}/Message/` with basic auth and a JSON body (`src`, `dst`, `text`, `url`, `method`):
202 `{"api_id", "message": "message(s) queued", "message_uuid": [...]}`; 401 for another auth id or token; 400
`{"api_id", "error"}` for a missing parameter, a text over Plivo's limits (1600 GSM characters, 737 UCS-2 units)
or an invalid `dst`. Which `dst` fails how follows our own magic numbers (as Twilio's test credentials do):
15005550001 invalid, 15005550429 rate limited (429), 15005550500 server error. Ids are derived from the request,
so re-recorded cassettes stay stable. Started by `tests.support.standin.StandIn` (`python plivo_standin.py
--port N`, stopped by PID); the credentials it accepts are the tests' fake ones.
"""

from __future__ import annotations

import base64
import re
import uuid

from tests.support.standin import Answer, Received, serve

AUTH_ID = "MAFAKEPLIVOAUTHID000"
AUTH_TOKEN = "fake-plivo-token-6c1e0b"
INVALID_NUMBER = "15005550001"
RATE_LIMITED = "15005550429"
SERVER_ERROR = "15005550500"

_PATH = re.compile(r"^/v1/Account/([^/]+)/Message/$")
_GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
           "abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€\f")



def _error(status: int, text: str, request: Received) -> Answer:
    return Answer(status, {"api_id": str(uuid.uuid5(uuid.NAMESPACE_URL, request.path + text)), "error": text})


def answer(request: Received) -> Answer:
    """Plivo's answer to one request."""
    match = _PATH.match(request.path)
    if request.method != "POST" or match is None:
        return _error(404, "not found", request)
    expected = "Basic " + base64.b64encode(f"{AUTH_ID}:{AUTH_TOKEN}".encode()).decode()
    if match.group(1) != AUTH_ID or request.headers.get("authorization") != expected:
        return _error(401, "authentication failed", request)
    body = request.json()
    if not isinstance(body, dict):
        return _error(400, "invalid json data", request)
    for name in ("src", "dst", "text"):
        if not body.get(name):
            return _error(400, f"{name} parameter is required", request)
    text, dst = str(body["text"]), str(body["dst"])
    if all(c in _GSM for c in text):
        if len(text) > 1600:
            return _error(400, "text parameter length exceeds 1600 characters", request)
    elif len(text.encode("utf-16-le")) // 2 > 737:
        return _error(400, "text parameter length exceeds 737 unicode characters", request)
    if dst == INVALID_NUMBER:
        return _error(400, f"{dst} is not a valid phone number (dst)", request)
    if dst == RATE_LIMITED:
        return _error(429, "too many requests", request)
    if dst == SERVER_ERROR:
        return _error(500, "internal server error", request)
    message_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, request.body.decode("utf-8", "replace")))
    return Answer(202, {"api_id": str(uuid.uuid5(uuid.NAMESPACE_DNS, message_uuid)), "message": "message(s) queued",
                       "message_uuid": [message_uuid]})


if __name__ == "__main__":
    serve("plivo", answer)
