"""Outgoing requests of the `africastalking` adapter, as a table of cases through smsgate's kit (`OutboundCase`).

The cases restate Africa's Talking's SMS reference (`POST /version1/messaging`, its answers and per-recipient
status codes) and courier's AT handler tests; where smsgate differs from courier the case says so.
"""

from __future__ import annotations

import json

import pytest
from smsgate.testing import ExpectedRequest, OutboundCase, run_outbound_case

KEY = "k3y-africastalking-0001"
BASE = {"address": "2020", "country": "US", "username": "myapp", "api_key": KEY, "max_attempts": 1}
URL = "https://api.africastalking.com/version1/messaging"
LONG = "Habari ya asubuhi, karibu kwenye kliniki. " * 40  # 1,720 bytes: two requests at 1,600


def form(text: str, **extra: str) -> dict[str, str]:
    return {"username": "myapp", "to": "+250788383383", "message": text, "from": "2020", **extra}


def answer(*recipients: dict[str, object], code: int = 201, message: str = "Sent to 1/1 Total Cost: KES 0.8000"
           ) -> tuple[int, str]:
    return code, json.dumps({"SMSMessageData": {"Message": message, "Recipients": list(recipients)}})


def ok(message_id: str = "ATXid_1") -> tuple[int, str]:
    return answer({"statusCode": 101, "number": "+250788383383", "status": "Success", "cost": "KES 0.8000",
                   "messageId": message_id})


def refused(code: int, status: str, http: int = 201) -> tuple[int, str]:
    return answer({"statusCode": code, "number": "+250788383383", "status": status, "cost": "0",
                   "messageId": "None"}, code=http, message="Sent to 0/1 Total Cost: 0")


CASES = [
    OutboundCase("plain", "Hello ☺", responses=[ok()], external_ids=["ATXid_1"],
                 requests=[ExpectedRequest(method="POST", url=URL, form=form("Hello ☺"), headers={
                     "apiKey": KEY, "Accept": "application/json",
                     "Content-Type": "application/x-www-form-urlencoded"})]),
    OutboundCase("is_shared: no from", "hi", settings={"is_shared": True}, responses=[ok()],
                 requests=[ExpectedRequest(form={k: v for k, v in form("hi").items() if k != "from"})]),
    OutboundCase("the sandbox", "hi", settings={"base_url": "https://api.sandbox.africastalking.com"},
                 responses=[ok()],
                 requests=[ExpectedRequest(url="https://api.sandbox.africastalking.com/version1/messaging")]),
    OutboundCase("attachment: its URL on a line of its own", "See",
                 attachments=["image/jpeg:https://x.example/a.jpg"], responses=[ok()],
                 requests=[ExpectedRequest(form=form("See\nhttps://x.example/a.jpg"))]),
    OutboundCase("a 500-character text: one request, AT splits it", "a" * 500, responses=[ok()],
                 requests=[ExpectedRequest(form=form("a" * 500))]),
    OutboundCase("above max_length: a request per part (courier sends it whole)", LONG,
                 responses=[ok("ATXid_1"), ok("ATXid_2")], external_ids=["ATXid_1", "ATXid_2"],
                 requests=[ExpectedRequest(form=form(LONG[:1596].strip())),
                           ExpectedRequest(form=form(LONG[1596:].strip()))]),
    OutboundCase("200 with a failed recipient: failed", "hi", responses=[answer({"status": "Failed"}, code=200)],
                 status="failed", error_code="response_content"),
    OutboundCase("no recipients: failed with AT's message", "hi",
                 responses=[answer(code=200, message="InvalidSenderId")], status="failed",
                 error_code="response_content"),
    OutboundCase("invalid phone number: failed", "hi", responses=[refused(403, "InvalidPhoneNumber")],
                 status="failed", error_code="403"),
    OutboundCase("blacklisted by the user: failed, the contact stopped (courier: response_content)", "hi",
                 responses=[refused(406, "UserInBlacklist")], status="failed", error_code="406",
                 opt_outs=["+250788383383"]),
    OutboundCase("insufficient balance: failed", "hi", responses=[refused(405, "InsufficientBalance")],
                 status="failed", error_code="405"),
    OutboundCase("AT's internal error: retryable (courier: failed)", "hi",
                 responses=[refused(500, "InternalServerError")], status="errored", error_code="500"),
    OutboundCase("AT's gateway error: retryable", "hi", responses=[refused(501, "GatewayError")], status="errored",
                 error_code="501"),
    OutboundCase("do-not-disturb answered with HTTP 409: failed", "hi",
                 responses=[refused(409, "DoNotDisturbRejection", http=409)], status="failed", error_code="409"),
    OutboundCase("an unknown recipient status: failed", "hi", responses=[refused(499, "Borked")], status="failed",
                 error_code="response_content"),
    OutboundCase("HTTP 401: failed", "hi", responses=[(401, "The supplied authentication is invalid")],
                 status="failed", error_code="401"),
    OutboundCase("HTTP 429: retryable", "hi", responses=[(429, "")], status="errored", error_code="429"),
    OutboundCase("HTTP 502: retryable", "hi", responses=[(502, "")], status="errored", error_code="502"),
    OutboundCase("part 2 refused: failed, not retried, part 1's id kept", LONG,
                 responses=[ok("ATXid_1"), refused(500, "InternalServerError")], status="failed", error_code="500",
                 external_ids=["ATXid_1"]),
    OutboundCase("messageId None: wired, nothing to match reports by", "hi", responses=[answer(
        {"statusCode": 101, "status": "Success", "messageId": "None"})], external_ids=[]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_send(smsgate_harness, case: OutboundCase) -> None:
    run_outbound_case(smsgate_harness, "africastalking", BASE, case)
