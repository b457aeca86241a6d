"""Outgoing requests of the `messagebird` adapter, as a table of cases through smsgate's kit (`OutboundCase`).

Each case names the text, the fake aggregator's answers, and what must be sent and stored; `run_outbound_case`
also checks that a channel log was written and that no secret appears in it. The cases restate courier's
MessageBird tests where smsgate keeps its behaviour.
"""

from __future__ import annotations

import json

import httpx
import pytest
from smsgate.testing import ExpectedRequest, OutboundCase, run_outbound_case

KEY = "fake-messagebird-key-5d21"
BASE = {"address": "18005551212", "country": "US", "auth_token": KEY, "max_attempts": 1}
MESSAGE_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
MESSAGES, MMS = "https://rest.messagebird.com/messages", "https://rest.messagebird.com/mms"
REPORT_URL = "https://gateway.example/c/test/status"
HEADERS = {"Authorization": f"AccessKey {KEY}", "Content-Type": "application/json"}
IMAGE, IMAGE2 = "https://foo.bar/image.jpg", "https://foo.bar/image2.jpg"


def sms(body: str | None, **extra: str) -> dict[str, object]:
    out: dict[str, object] = {"recipients": ["+250788383383"], "reference": MESSAGE_ID, "originator": "18005551212"}
    if body is not None:
        out["body"] = body
    return {**out, **extra, "reportUrl": REPORT_URL}


def mms(body: str | None, *urls: str) -> dict[str, object]:
    out: dict[str, object] = {"recipients": ["+250788383383"], "reference": MESSAGE_ID, "originator": "18005551212"}
    if body is not None:
        out["body"] = body
    return {**out, "mediaUrls": list(urls)}


def created(message_id: str = "efa6405d518d4c0c88cce11f7db775fb") -> tuple[int, str]:
    return 201, json.dumps({"id": message_id, "href": f"https://rest.messagebird.com/messages/{message_id}",
                            "direction": "mt", "originator": "18005551212", "body": "...", "reference": MESSAGE_ID,
                            "recipients": {"totalCount": 1, "totalSentCount": 1, "items": [
                                {"recipient": 250788383383, "status": "sent"}]}})


def errors(status: int, code: int, description: str) -> tuple[int, str]:
    return status, json.dumps({"errors": [{"code": code, "description": description, "parameter": None}]})


CASES = [
    OutboundCase("unicode: datacoding unicode", "Simple Message ☺", responses=[created()],
                 external_ids=["efa6405d518d4c0c88cce11f7db775fb"],
                 requests=[ExpectedRequest(method="POST", url=MESSAGES, headers=HEADERS,
                                           json=sms("Simple Message ☺", datacoding="unicode"))]),
    OutboundCase("GSM text: no datacoding, as courier", "Simple Message", responses=[created()],
                 requests=[ExpectedRequest(url=MESSAGES, json=sms("Simple Message"))]),
    OutboundCase("text and an image: one MMS", "Simple Message ☺", attachments=[f"image/jpeg:{IMAGE}"],
                 responses=[created()], requests=[ExpectedRequest(url=MMS, json=mms("Simple Message ☺", IMAGE))]),
    OutboundCase("two images, no text: an MMS without body", "", attachments=[f"image/jpeg:{IMAGE}", IMAGE2],
                 responses=[created()], requests=[ExpectedRequest(url=MMS, json=mms(None, IMAGE, IMAGE2))]),
    OutboundCase("a long text is one request: MessageBird concatenates", "a" * 500, responses=[created()],
                 requests=[ExpectedRequest(json=sms("a" * 500))]),
    OutboundCase("max_length splits into several messages", "a" * 300, settings={"max_length": 160},
                 responses=[created("m1"), created("m2")], external_ids=["m1", "m2"],
                 requests=[ExpectedRequest(json=sms("a" * 160)), ExpectedRequest(json=sms("a" * 140))]),
    OutboundCase("the originator as written", "hi", settings={"address": "+18005551212"}, responses=[created()],
                 requests=[ExpectedRequest(json={**sms("hi"), "originator": "+18005551212"})]),
    OutboundCase("2xx without id: wired, nothing to match by but the reference", "hi",
                 responses=[(201, '{"href": "x"}')], external_ids=[]),
    OutboundCase("401 bad access key: failed", "hi",
                 responses=[errors(401, 2, "Request not allowed (incorrect access_key)")], status="failed",
                 error_code="2"),
    OutboundCase("422 invalid parameters: failed", "hi", responses=[errors(422, 10, "datacoding is invalid")],
                 status="failed", error_code="10"),
    OutboundCase("404 without a body: failed", "hi", responses=[(404, "")], status="failed", error_code="404"),
    OutboundCase("not enough balance: failed", "hi", responses=[errors(402, 25, "Not enough balance")],
                 status="failed", error_code="25"),
    OutboundCase("429: retryable", "hi", responses=[(429, "")], status="errored", error_code="429"),
    OutboundCase("500: retryable", "hi", responses=[(500, "")], status="errored", error_code="500"),
    OutboundCase("500 with an error code: retryable", "hi", responses=[errors(500, 99, "Internal error")],
                 status="errored", error_code="99"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_send(smsgate_harness, case: OutboundCase) -> None:
    run_outbound_case(smsgate_harness, "messagebird", BASE, case)


def test_the_reason_keeps_messagebirds_words(smsgate_harness) -> None:
    case = OutboundCase("invalid", "hi", responses=[errors(422, 10, "datacoding is invalid")], status="failed")
    outcome = run_outbound_case(smsgate_harness, "messagebird", BASE, case)
    assert outcome.message.error_reason == "HTTP 422 from rest.messagebird.com: MessageBird error 10: " \
                                           "datacoding is invalid"


def test_a_missing_id_is_logged(smsgate_harness) -> None:
    harness = smsgate_harness({"mb": {"adapter": "messagebird", **BASE}},
                              respond=lambda request: httpx.Response(201, json={"href": "x"}))
    assert harness.send("mb", "+250788383383", "hi", id=MESSAGE_ID).message.status == "wired"
    logged = [e for log in harness.logs(message_id=MESSAGE_ID) for e in log["errors"]]
    assert any("response_value_missing" in str(e) for e in logged), logged
