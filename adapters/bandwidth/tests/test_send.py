"""Outgoing requests of the `bandwidth` adapter, as a table of cases through smsgate's kit (`OutboundCase`).

Each case names the text, the fake aggregator's answers, and what must be sent and stored; `run_outbound_case`
also checks that a channel log was written and that no secret (the password, nor its basic-auth form) appears in
it. The cases follow courier's handler tests where they exist (channel `2020`, user1/pass1, account
`accound-id`, application `application-id`).
"""

from __future__ import annotations

import json

import pytest
from smsgate import OutgoingMessage
from smsgate.testing import ExpectedRequest, OutboundCase, run_outbound_case

MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
BASE = {"address": "2020", "country": "US", "username": "user1", "password": "pass1",
        "account_id": "accound-id", "messaging_application_id": "application-id",
        "base_url": "https://messaging.bandwidth.example", "max_attempts": 1}
URL = "https://messaging.bandwidth.example/api/v2/users/accound-id/messages"
HEADERS = {"Authorization": "Basic dXNlcjE6cGFzczE=", "Content-Type": "application/json",
           "Accept": "application/json"}
TO = "+12067791234"
LONG = "This is a long message that will be longer than 30....... characters"
LONG_PARTS = ["This is a long message that", "will be longer than 30.......", "characters"]


def body(text: str, **extra: object) -> dict[str, object]:
    return {"applicationId": "application-id", "to": [TO], "from": "2020", "text": text, **extra, "tag": MSG_ID}


def ok(external_id: str, **extra: object) -> tuple[int, str]:
    return 202, json.dumps({"id": external_id, "owner": "2020", "direction": "out", **extra})


def error(status: int, kind: str, description: str, headers: dict[str, str] | None = None
          ) -> tuple[int, str, dict[str, str]]:
    return status, json.dumps({"type": kind, "description": description}), headers or {}


CASES = [
    OutboundCase("plain, courier's body plus our tag", "Simple Message ☺", to=TO, responses=[ok("55555")],
                 external_ids=["55555"],
                 requests=[ExpectedRequest(method="POST", url=URL, json=body("Simple Message ☺"), headers=HEADERS)]),
    OutboundCase("the exact JSON, keys in courier's order", "hi", to=TO, responses=[ok("1")],
                 requests=[ExpectedRequest(body=json.dumps(body("hi"), separators=(",", ":")))]),
    OutboundCase("any 2xx is success", "hi", to=TO, responses=[(200, '{"id":"55555"}')], external_ids=["55555"]),
    OutboundCase("attachment: media, not appended to the text", "My pic!", to=TO,
                 attachments=["image/jpeg:https://foo.bar/image.jpg"], responses=[ok("m1")],
                 requests=[ExpectedRequest(json=body("My pic!", media=["https://foo.bar/image.jpg"]))]),
    OutboundCase("attachment without text: one request, empty text", "", to=TO,
                 attachments=["image/jpeg:https://foo.bar/image.jpg"], responses=[ok("m2")],
                 requests=[ExpectedRequest(json=body("", media=["https://foo.bar/image.jpg"]))]),
    OutboundCase("long text: one request per part, media on the first only", LONG, to=TO,
                 settings={"max_length": 30}, attachments=["https://foo.bar/a.png"],
                 responses=[ok("a"), ok("b"), ok("c")], external_ids=["a", "b", "c"],
                 requests=[ExpectedRequest(json=body(LONG_PARTS[0], media=["https://foo.bar/a.png"])),
                           ExpectedRequest(json=body(LONG_PARTS[1])), ExpectedRequest(json=body(LONG_PARTS[2]))]),
    OutboundCase("2500 bytes of unicode at the default 2048: two parts", "Привет " * 192, to=TO,
                 responses=[ok("u1"), ok("u2")], external_ids=["u1", "u2"]),
    OutboundCase("no id in the answer: wired, matched later by the tag", "hi", to=TO, responses=[(202, "{}")],
                 external_ids=[]),
    OutboundCase("the old key application_id is read too", "hi", to=TO,
                 settings={"messaging_application_id": None, "application_id": "old-app"},
                 responses=[ok("o1")], requests=[ExpectedRequest(json={**body("hi"), "applicationId": "old-app"})]),
    OutboundCase("request-validation: failed with Bandwidth's type", "hi", to=TO,
                 responses=[error(400, "request-validation", "Your request could not be accepted")],
                 status="failed", error_code="request-validation"),
    OutboundCase("unauthorized: failed", "hi", to=TO, responses=[error(401, "unauthorized", "Authentication Failed")],
                 status="failed", error_code="unauthorized"),
    OutboundCase("forbidden: failed", "hi", to=TO, responses=[error(403, "forbidden", "Access Denied")],
                 status="failed", error_code="forbidden"),
    OutboundCase("404 without a type (Spring's body): failed", "hi", to=TO,
                 responses=[(404, json.dumps({"timestamp": "2021-07-21T21:00:45.179+0000", "status": 404,
                                              "error": "Not Found", "message": "", "path": "/api/v2/users/x"}))],
                 status="failed", error_code="rejected_with_reason"),
    OutboundCase("queue full (429): retryable", "hi", to=TO,
                 responses=[error(429, "max-message-queue-size-exceeded", "The SMS queue for your account is full",
                                  {"Retry-After": "1"})], status="errored",
                 error_code="max-message-queue-size-exceeded"),
    OutboundCase("server error: retryable", "hi", to=TO, responses=[(503, '{"type":"x"}')], status="errored",
                 error_code="503"),
    OutboundCase("an HTML error page: failed as unparseable", "hi", to=TO,
                 responses=[(400, "<html><body>Bad Request</body></html>")], status="failed",
                 error_code="response_unparseable"),
    OutboundCase("a 2xx that is not JSON: failed as unparseable (courier)", "hi", to=TO, responses=[(202, "OK")],
                 status="failed", error_code="response_unparseable"),
    OutboundCase("the first failing part stops the send", LONG, to=TO, settings={"max_length": 30},
                 responses=[ok("a"), error(400, "request-validation", "bad")], status="failed",
                 error_code="request-validation",
                 requests=[ExpectedRequest(json=body(LONG_PARTS[0])), ExpectedRequest(json=body(LONG_PARTS[1]))]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_send(smsgate_harness, case: OutboundCase) -> None:
    settings = {k: v for k, v in {**BASE, **case.settings}.items() if v is not None}
    run_outbound_case(smsgate_harness, "bandwidth", settings, OutboundCase(**{**case.__dict__, "settings": {}}))


def test_nothing_to_send_fails_without_a_request(smsgate_harness) -> None:
    """Courier posts nothing and calls it sent; the core refuses such a message before it is stored, and the
    adapter refuses one built directly."""
    h = smsgate_harness({"test": {"adapter": "bandwidth", **BASE}})
    outcome = h.send_message(OutgoingMessage(channel="test", to=TO, text="", id=MSG_ID))
    assert (outcome.message.status, outcome.message.error_code) == ("failed", "message_invalid")
    assert h.requests == []


def test_segments_come_from_bandwidths_answer(smsgate_harness) -> None:
    outcome = run_outbound_case(smsgate_harness, "bandwidth", BASE, OutboundCase(
        "segmentCount", "hi", to=TO, responses=[ok("s1", segmentCount=3)], message_id=MSG_ID))
    assert outcome.message.segments == 3


def test_a_throttled_answer_says_how_long_to_wait(smsgate_harness) -> None:
    outcome = run_outbound_case(smsgate_harness, "bandwidth", BASE, OutboundCase(
        "429", "hi", to=TO, responses=[error(429, "max-message-queue-size-exceeded", "full", {"Retry-After": "7"})],
        status="errored"))
    assert outcome.result is not None and outcome.result.retry_after == 7
