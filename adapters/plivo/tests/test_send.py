"""Outgoing requests of the `plivo` adapter, as a table of cases through smsgate's kit (`OutboundCase`).

Each case names the text, the fake aggregator's answers, and what must be sent and stored; `run_outbound_case`
also checks that a channel log was written and that no secret appears in it. The cases restate courier's Plivo
tests (§8 of the catalogue notes) where smsgate keeps its behaviour.
"""

from __future__ import annotations

import base64
import json

import pytest
from smsgate.testing import ExpectedRequest, OutboundCase, run_outbound_case

AUTH_ID, TOKEN = "MAFAKEPLIVOAUTHID000", "fake-plivo-token-6c1e0b"
BASIC = "Basic " + base64.b64encode(f"{AUTH_ID}:{TOKEN}".encode()).decode()
BASE = {"address": "2020", "country": "MY", "auth_id": AUTH_ID, "auth_token": TOKEN, "app_id": "app-1",
        "max_attempts": 1}
URL = f"https://api.plivo.com/v1/Account/{AUTH_ID}/Message/"
MESSAGE_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
CALLBACK = f"https://gateway.example/c/test/status?id={MESSAGE_ID}"
HEADERS = {"Authorization": BASIC, "Content-Type": "application/json", "Accept": "application/json"}
LONG = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
        "isn't that right but it is even longer than before I say, I need to keep adding more things to make it work")
PART1 = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
         "isn't that right but it is even longer than before I say,")
PART2 = "I need to keep adding more things to make it work"
CYRILLIC = "ж" * 800  # 1600 UTF-8 bytes: one byte part, but more than Plivo's 737 UCS-2 units


def body(text: str, src: str = "2020") -> dict[str, str]:
    return {"src": src, "dst": "250788383383", "text": text, "url": CALLBACK, "method": "POST"}


def ok(*uuids: str) -> tuple[int, str]:
    return 202, json.dumps({"api_id": "db342550-e1b9-11e6-a1e3-22000ac6806f", "message": "message(s) queued",
                            "message_uuid": list(uuids)})


CASES = [
    OutboundCase("plain", "Simple Message ☺", responses=[ok("abc123")], external_ids=["abc123"],
                 requests=[ExpectedRequest(method="POST", url=URL, json=body("Simple Message ☺"), headers=HEADERS)]),
    OutboundCase("long text: courier's byte split, one POST per part", LONG, settings={"max_length": 160},
                 responses=[ok("part-1"), ok("part-2")], external_ids=["part-1", "part-2"],
                 requests=[ExpectedRequest(json=body(PART1)), ExpectedRequest(json=body(PART2))]),
    OutboundCase("unicode over 737 units is cut at UCS-2 segment boundaries", CYRILLIC,
                 responses=[ok("u-1"), ok("u-2")], external_ids=["u-1", "u-2"],
                 requests=[ExpectedRequest(json=body("ж" * 737)), ExpectedRequest(json=body("ж" * 63))]),
    OutboundCase("attachment: its URL on a line of its own", "My pic!",
                 attachments=["image/jpeg:https://foo.bar/image.jpg"], responses=[ok("abc123")],
                 requests=[ExpectedRequest(json=body("My pic!\nhttps://foo.bar/image.jpg"))]),
    OutboundCase("markup survives JSON", "<b>bold</b> & more", responses=[ok("abc123")],
                 requests=[ExpectedRequest(json=body("<b>bold</b> & more"))]),
    OutboundCase("the address loses its plus", "hi", settings={"address": "+60124361111"}, responses=[ok("a")],
                 requests=[ExpectedRequest(json=body("hi", src="60124361111"))]),
    OutboundCase("2xx without message_uuid: failed", "hi", responses=[(200, '{ "missing":"OzYDlvf3SQVc" }')],
                 status="failed", error_code="response_content"),
    OutboundCase("401: failed", "hi", responses=[(401, '{ "error": "failed" }')], status="failed",
                 error_code="401"),
    OutboundCase("400 invalid dst: failed, Plivo's error kept", "hi",
                 responses=[(400, '{"api_id": "x", "error": "dst parameter is invalid"}')], status="failed",
                 error_code="400"),
    OutboundCase("429: retryable", "hi", responses=[(429, '{"error": "too many requests"}')], status="errored",
                 error_code="429"),
    OutboundCase("500: retryable", "hi", responses=[(500, "oops")], status="errored", error_code="500"),
    OutboundCase("no app_id: failed before any request", "hi", settings={"app_id": ""}, responses=[ok("x")],
                 status="failed", error_code="channel_config", requests=[]),
    OutboundCase("the second part fails: the send stops there", LONG, settings={"max_length": 160},
                 responses=[ok("part-1"), (400, '{"error": "text is invalid"}')], status="failed", error_code="400",
                 requests=[ExpectedRequest(json=body(PART1)), ExpectedRequest(json=body(PART2))]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_send(smsgate_harness, case: OutboundCase) -> None:
    run_outbound_case(smsgate_harness, "plivo", BASE, case)


def test_the_reason_keeps_plivos_words(smsgate_harness) -> None:
    case = OutboundCase("invalid dst", "hi", responses=[(400, '{"api_id": "x", "error": "dst parameter is invalid"}')],
                        status="failed")
    outcome = run_outbound_case(smsgate_harness, "plivo", BASE, case)
    assert outcome.message.error_reason == "HTTP 400 from api.plivo.com: dst parameter is invalid"
