"""Outgoing requests of the `infobip` adapter, as a table of cases through smsgate's kit (`OutboundCase`).

The cases restate Infobip's SMS API v3 reference (`POST /sms/3/messages`, its answers and status codes), its MMS
API, and courier's IB handler tests; where smsgate differs from courier the case says so (README.md says why).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from smsgate.testing import ExpectedRequest, OutboundCase, run_outbound_case

MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
BASE = {"address": "2020", "country": "US", "username": "Username", "password": "Password", "max_attempts": 1}
URL = "https://api.infobip.com/sms/3/messages"
HEADERS = {"Authorization": "Basic VXNlcm5hbWU6UGFzc3dvcmQ=", "Content-Type": "application/json",
           "Accept": "application/json"}
WEBHOOKS = {"delivery": {"url": "https://gateway.example/c/test/delivered", "intermediateReport": True},
            "contentType": "application/json"}
LONG = "Habari ya asubuhi, karibu kwenye kliniki. " * 40  # 1,720 bytes: two parts at 1,600


def sms(*texts: str, sender: str | None = "2020", **content: str) -> dict[str, Any]:
    return {"messages": [{**({"sender": sender} if sender else {}),
                          "destinations": [{"to": "250788383383", **({"messageId": MSG_ID} if n == 0 else {})}],
                          "content": {"text": text, **content}, "webhooks": WEBHOOKS} for n, text in enumerate(texts)]}


def mms(*segments: dict[str, str]) -> dict[str, Any]:
    return {"messages": [{"sender": "2020", "destinations": [{"to": "250788383383", "messageId": MSG_ID}],
                          "content": {"title": "", "messageSegments": list(segments)}, "webhooks": WEBHOOKS}]}


def status(group: int, group_name: str, status_id: int, name: str) -> dict[str, Any]:
    return {"groupId": group, "groupName": group_name, "id": status_id, "name": name, "description": name.lower()}


PENDING = status(1, "PENDING", 26, "PENDING_ACCEPTED")


def answer(*messages: dict[str, Any], code: int = 200) -> tuple[int, str]:
    return code, json.dumps({"bulkId": "2034072219640523072", "messages": list(messages)})


def ok(*ids: str) -> tuple[int, str]:
    return answer(*({"messageId": i, "status": PENDING, "destination": "250788383383",
                     "details": {"messageCount": 1}} for i in ids))


def refused(status_id: int, name: str, group: int = 5, group_name: str = "REJECTED") -> tuple[int, str]:
    return answer({"messageId": MSG_ID, "status": status(group, group_name, status_id, name)})


CASES = [
    OutboundCase("plain, basic auth", "Hello", responses=[ok(MSG_ID)], external_ids=[MSG_ID],
                 requests=[ExpectedRequest(method="POST", url=URL, json=sms("Hello"), headers=HEADERS)]),
    OutboundCase("an api_key wins over basic auth", "Hello", settings={"api_key": "abc-123"}, responses=[ok(MSG_ID)],
                 requests=[ExpectedRequest(json=sms("Hello"), headers={"Authorization": "App abc-123"})]),
    OutboundCase("unicode goes as it is: Infobip picks the coding", "Habari ☺", responses=[ok(MSG_ID)],
                 requests=[ExpectedRequest(json=sms("Habari ☺"))]),
    OutboundCase("an answer without messageId: wired, nothing to match reports by", "hi",
                 responses=[answer({"status": PENDING})], external_ids=[]),
    OutboundCase("a 700-character text: one message, Infobip joins its SMS", "a" * 700, responses=[ok(MSG_ID)],
                 requests=[ExpectedRequest(json=sms("a" * 700))]),
    OutboundCase("above max_length: one request, a message per part (courier sends it whole)", LONG,
                 responses=[ok(MSG_ID, "ib-2")], external_ids=[MSG_ID, "ib-2"],
                 requests=[ExpectedRequest(json=sms(LONG[:1596].strip(), LONG[1596:].strip()))]),
    OutboundCase("transliteration", "Merhaba dünya", settings={"transliteration": "turkish"},
                 responses=[ok(MSG_ID)],
                 requests=[ExpectedRequest(json=sms("Merhaba dünya", transliteration="TURKISH"))]),
    OutboundCase("the address goes as it is, + kept", "hi", settings={"address": "+12065551212"},
                 responses=[ok(MSG_ID)], requests=[ExpectedRequest(json=sms("hi", sender="+12065551212"))]),
    OutboundCase("no address: Infobip's default sender", "hi", settings={"address": ""}, responses=[ok(MSG_ID)],
                 requests=[ExpectedRequest(json=sms("hi", sender=None))]),
    OutboundCase("another base_url", "hi", settings={"base_url": "https://xyz.api.infobip.com/"},
                 responses=[ok(MSG_ID)], requests=[ExpectedRequest(url="https://xyz.api.infobip.com/sms/3/messages")]),
    OutboundCase("attachments: an MMS", "Look at this", attachments=["image/jpeg:https://x.example/a.jpg"],
                 responses=[ok(MSG_ID)], external_ids=[MSG_ID],
                 requests=[ExpectedRequest(url="https://api.infobip.com/mms/2/messages", json=mms(
                     {"type": "TEXT", "text": "Look at this"},
                     {"type": "LINK", "contentUrl": "https://x.example/a.jpg", "contentType": "image/jpeg"}))]),
    OutboundCase("an MMS without text", "", attachments=["image/jpeg:https://x.example/a.jpg"], responses=[ok(MSG_ID)],
                 requests=[ExpectedRequest(json=mms({"type": "LINK", "contentUrl": "https://x.example/a.jpg",
                                                     "contentType": "image/jpeg"}))]),
    OutboundCase("a bare attachment URL: its type from the file name (courier skips it)", "",
                 attachments=["https://x.example/b.png"], responses=[ok(MSG_ID)],
                 requests=[ExpectedRequest(json=mms({"type": "LINK", "contentUrl": "https://x.example/b.png",
                                                     "contentType": "image/png"}))]),
    OutboundCase("not enough credits: failed with Infobip's status name", "hi",
                 responses=[refused(12, "REJECTED_NOT_ENOUGH_CREDITS")], status="failed",
                 error_code="REJECTED_NOT_ENOUGH_CREDITS"),
    OutboundCase("do-not-disturb: failed, the contact stopped (courier: response_content)", "hi",
                 responses=[refused(10, "REJECTED_DND")], status="failed", error_code="REJECTED_DND",
                 opt_outs=["+250788383383"]),
    OutboundCase("blocklisted: failed, the contact stopped", "hi",
                 responses=[refused(14, "REJECTED_DESTINATION_BLOCKLISTED")], status="failed",
                 error_code="REJECTED_DESTINATION_BLOCKLISTED", opt_outs=["+250788383383"]),
    OutboundCase("Infobip's system error: retryable", "hi", responses=[refused(21, "REJECTED_SYSTEM_ERROR")],
                 status="errored", error_code="REJECTED_SYSTEM_ERROR"),
    OutboundCase("a bad destination: failed", "hi", responses=[refused(52, "REJECTED_DESTINATION")],
                 status="failed", error_code="REJECTED_DESTINATION"),
    OutboundCase("undeliverable: failed", "hi", responses=[refused(4, "UNDELIVERABLE_REJECTED_OPERATOR", 2,
                                                                   "UNDELIVERABLE")],
                 status="failed", error_code="UNDELIVERABLE_REJECTED_OPERATOR"),
    OutboundCase("v1's group 0 is not an acceptance (as courier)", "hi",
                 responses=[refused(0, "MESSAGE_ACCEPTED", 0, "OK")], status="failed", error_code="MESSAGE_ACCEPTED"),
    OutboundCase("a 2xx without messages: failed", "hi", responses=[(200, "{}")], status="failed",
                 error_code="response_content"),
    OutboundCase("HTTP 401: failed", "hi", responses=[(401, json.dumps({"requestError": {"serviceException": {
        "messageId": "UNAUTHORIZED", "text": "Invalid login details"}}}))], status="failed", error_code="401"),
    OutboundCase("HTTP 400 with violations: failed", "hi", responses=[(400, json.dumps({
        "errorCode": "E400", "description": "Request cannot be processed.",
        "violations": [{"property": "messages[0].destinations[0].to", "violation": "must not be blank"}]}))],
                 status="failed", error_code="400"),
    OutboundCase("HTTP 429: retryable", "hi", responses=[(429, "")], status="errored", error_code="429"),
    OutboundCase("HTTP 503: retryable", "hi", responses=[(503, "")], status="errored", error_code="503"),
    OutboundCase("part 2 refused: failed, not retried, part 1's id kept", LONG,
                 responses=[answer({"messageId": MSG_ID, "status": PENDING}, {
                     "messageId": "ib-2", "status": status(5, "REJECTED", 21, "REJECTED_SYSTEM_ERROR")})],
                 status="failed", error_code="REJECTED_SYSTEM_ERROR", external_ids=[MSG_ID]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_send(smsgate_harness, case: OutboundCase) -> None:
    run_outbound_case(smsgate_harness, "infobip", BASE, case)


def test_segments_are_infobip_s_count(smsgate_harness) -> None:
    outcome = run_outbound_case(smsgate_harness, "infobip", BASE, OutboundCase("count", "a" * 700, responses=[
        answer({"messageId": MSG_ID, "status": PENDING, "details": {"messageCount": 5}})]))
    assert outcome.message.segments == 5
