"""Outgoing requests of the `zenvia` adapter, as a table of cases through smsgate's kit (`OutboundCase`).

Each case names the text, the fake aggregator's answers, and what must be sent and stored; `run_outbound_case`
also checks that a channel log was written and that no secret (the API token) appears in it. The cases follow
courier's handler tests where they exist (`api_key` `zv-api-token`, channel `2020`).
"""

from __future__ import annotations

import json

import pytest
from smsgate import OutgoingMessage
from smsgate.testing import ExpectedRequest, OutboundCase, run_outbound_case

TOKEN = "zv-api-token"
MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
BASE = {"address": "2020", "country": "BR", "api_key": TOKEN, "base_url": "https://api.zenvia.example",
        "max_attempts": 1}
URL = "https://api.zenvia.example/v2/channels/sms/messages"
HEADERS = {"X-API-TOKEN": TOKEN, "Content-Type": "application/json", "Accept": "application/json"}
TO = "+250788383383"
LONG = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
        "isn't that right but it is even longer than before I say, I need to keep adding more things to make it work")
PART1 = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
         "isn't that right but it is even longer than before I say,")
PART2 = "I need to keep adding more things to make it work"


def body(*texts: str, sender: str = "2020") -> dict[str, object]:
    return {"from": sender, "to": "250788383383", "contents": [{"type": "text", "text": t} for t in texts],
            "externalId": MSG_ID}


def ok(external_id: str = "55555") -> tuple[int, str]:
    return 200, json.dumps({"id": external_id, "from": "2020", "to": "250788383383", "direction": "OUT",
                            "channel": "sms", "contents": [], "timestamp": "2026-01-01T00:00:00Z"})


def error(status: int, code: str, message: str, *details: tuple[str, str]) -> tuple[int, str]:
    return status, json.dumps({"code": code, "message": message,
                               "details": [{"code": c, "path": p, "message": f"{p} is invalid"} for c, p in details]})


CASES = [
    OutboundCase("plain: courier's body plus our externalId", "Simple Message ☺", to=TO, responses=[ok()],
                 external_ids=["55555"],
                 requests=[ExpectedRequest(method="POST", url=URL, json=body("Simple Message ☺"), headers=HEADERS)]),
    OutboundCase("long text: ONE request, one content per part", LONG, to=TO, settings={"max_length": 160},
                 responses=[ok("l1")], external_ids=["l1"], requests=[ExpectedRequest(json=body(PART1, PART2))]),
    OutboundCase("attachment: its URL on a line of the text", "My pic!", to=TO,
                 attachments=["image/jpeg:https://foo.bar/image.jpg"], responses=[ok()],
                 requests=[ExpectedRequest(json=body("My pic!\nhttps://foo.bar/image.jpg"))]),
    OutboundCase("attachment alone", "", to=TO, attachments=["image/jpeg:https://foo.bar/image.jpg"],
                 responses=[ok()], requests=[ExpectedRequest(json=body("https://foo.bar/image.jpg"))]),
    OutboundCase("a + in the address is dropped", "hi", to=TO, settings={"address": "+2020"}, responses=[ok()],
                 requests=[ExpectedRequest(json=body("hi"))]),
    OutboundCase("an alias as sender", "hi", to=TO, settings={"address": "MyBrand"}, responses=[ok()],
                 requests=[ExpectedRequest(json=body("hi", sender="MyBrand"))]),
    OutboundCase("a 200 without an id: failed (response_content)", "hi", to=TO,
                 responses=[(200, json.dumps({"code": "400", "message": "Validation error", "details": []}))],
                 status="failed", error_code="response_content"),
    OutboundCase("a 200 that is not JSON: failed", "hi", to=TO, responses=[(200, "OK")], status="failed",
                 error_code="response_content"),
    OutboundCase("401 without Zenvia's code (courier's case): failed", "hi", to=TO,
                 responses=[(401, '{"error":"failed"}')], status="failed", error_code="401"),
    OutboundCase("authentication error: failed with Zenvia's code", "hi", to=TO,
                 responses=[error(401, "AUTHENTICATION_ERROR", "No or invalid API token")], status="failed",
                 error_code="AUTHENTICATION_ERROR"),
    OutboundCase("validation error: failed with Zenvia's code", "hi", to=TO,
                 responses=[error(400, "VALIDATION_ERROR", "Validation error", ("INVALID_VALUE", "to"))],
                 status="failed", error_code="VALIDATION_ERROR"),
    OutboundCase("not found: failed", "hi", to=TO, responses=[error(404, "NOT_FOUND", "Not found")],
                 status="failed", error_code="NOT_FOUND"),
    OutboundCase("duplicated: failed", "hi", to=TO, responses=[error(409, "DUPLICATED", "Duplicated")],
                 status="failed", error_code="DUPLICATED"),
    OutboundCase("429: retryable", "hi", to=TO, responses=[(429, "")], status="errored", error_code="429"),
    OutboundCase("internal error: retryable", "hi", to=TO, responses=[error(500, "INTERNAL_ERROR", "Oops")],
                 status="errored", error_code="500"),
    OutboundCase("a proxy's 502 page: retryable", "hi", to=TO, responses=[(502, "<html>Bad gateway</html>")],
                 status="errored", error_code="502"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_send(smsgate_harness, case: OutboundCase) -> None:
    run_outbound_case(smsgate_harness, "zenvia", BASE, case)


def test_the_reason_keeps_zenvias_words(smsgate_harness) -> None:
    outcome = run_outbound_case(smsgate_harness, "zenvia", BASE, OutboundCase(
        "details", "hi", to=TO, responses=[error(400, "VALIDATION_ERROR", "Validation error", ("INVALID", "to"))],
        status="failed"))
    assert outcome.message.error_reason == "HTTP 400: VALIDATION_ERROR: Validation error; to: to is invalid"


def test_segments_count_every_content(smsgate_harness) -> None:
    outcome = run_outbound_case(smsgate_harness, "zenvia", BASE, OutboundCase(
        "segments", LONG, to=TO, settings={"max_length": 160}, responses=[ok()]))
    assert outcome.message.segments == 2


def test_nothing_to_send_fails_without_a_request(smsgate_harness) -> None:
    """Courier posts `"contents": null`; the core refuses such a message before it is stored, and the adapter
    refuses one built directly."""
    h = smsgate_harness({"test": {"adapter": "zenvia", **BASE}})
    outcome = h.send_message(OutgoingMessage(channel="test", to=TO, text="", id=MSG_ID))
    assert (outcome.message.status, outcome.message.error_code) == ("failed", "message_invalid")
    assert h.requests == []
