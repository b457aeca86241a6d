"""Outgoing requests of the `clickatell` adapter, as a table of cases through smsgate's kit (`OutboundCase`).

Each case names the text, the fake aggregator's answers, and what must be sent and stored; `run_outbound_case`
also checks that a channel log was written and that no secret (the API key, which travels in the URL) appears in
it. The cases restate courier's Clickatell tests where smsgate keeps its behaviour.
"""

from __future__ import annotations

import json

import pytest
from smsgate.testing import ExpectedRequest, OutboundCase, run_outbound_case

KEY = "fake-clickatell-key-73a9"
BASE = {"address": "2020", "country": "US", "api_key": KEY, "max_attempts": 1}
URL = "https://platform.clickatell.com/messages/http/send"
HEADERS = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
TO = "+250788383383"
LONG = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
        "isn't that right but it is even longer than before I say, I need to keep adding more things to make it work")
PART1 = ("This is a longer message than 160 characters and will cause us to split it into two separate parts, "
         "isn't that right but it is even longer than before I say,")
PART2 = "I need to keep adding more things to make it work"


def params(content: str) -> dict[str, str]:
    return {"apiKey": KEY, "content": content, "from": "2020", "to": "250788383383"}


def ok(message_id: str) -> tuple[int, str]:
    return 202, json.dumps({"messages": [{"apiMessageId": message_id, "accepted": True, "to": "250788383383",
                                          "errorCode": None, "error": None, "errorDescription": None}],
                            "errorCode": None, "error": None, "errorDescription": None})


def refused(status: int, code: int, text: str, *, level: str = "message") -> tuple[int, str]:
    error = {"errorCode": code, "error": text, "errorDescription": text}
    if level == "message":
        return status, json.dumps({"messages": [{"apiMessageId": None, "accepted": False, "to": "250788383383",
                                                 **error}], "errorCode": None, "error": None})
    return status, json.dumps({"messages": [], **error})


CASES = [
    OutboundCase("plain", "Simple Message", responses=[ok("id1002")], external_ids=["id1002"],
                 requests=[ExpectedRequest(method="GET", url=f"{URL}?apiKey={KEY}&content=Simple+Message&from=2020"
                                                             "&to=250788383383", headers=HEADERS)]),
    OutboundCase("unicode travels as UTF-8, unflagged", "Unicode ☺", responses=[ok("id1003")],
                 requests=[ExpectedRequest(params=params("Unicode ☺"))]),
    OutboundCase("attachment: its URL on a line of its own", "My pic!",
                 attachments=["image/jpeg:https://foo.bar/image.jpg"], responses=[ok("id1")],
                 requests=[ExpectedRequest(params=params("My pic!\nhttps://foo.bar/image.jpg"))]),
    OutboundCase("long text: one GET per part", LONG, settings={"max_length": 160},
                 responses=[ok("id-1"), ok("id-2")], external_ids=["id-1", "id-2"],
                 requests=[ExpectedRequest(params=params(PART1)), ExpectedRequest(params=params(PART2))]),
    OutboundCase("the default split is 640 bytes", "a" * 700, responses=[ok("id-1"), ok("id-2")],
                 requests=[ExpectedRequest(params=params("a" * 640)), ExpectedRequest(params=params("a" * 60))]),
    OutboundCase("the address loses its plus", "hi", settings={"address": "+12065550100"}, responses=[ok("i")],
                 requests=[ExpectedRequest(params={**params("hi"), "from": "12065550100"})]),
    OutboundCase("400 without a code: failed", "hi", responses=[(400, "Error")], status="failed", error_code="400"),
    OutboundCase("429: retryable", "hi", responses=[(429, "slow down")], status="errored", error_code="429"),
    OutboundCase("503: retryable", "hi", responses=[(503, "")], status="errored", error_code="503"),
    OutboundCase("2xx that accepted nothing: failed", "hi", responses=[(200, json.dumps(
        {"messages": [], "error": "Two-Way integration error - From number is not related to integration"}))],
        status="failed", error_code="response_content"),
    OutboundCase("opted out, inside a 202: failed and stopped", "hi",
                 responses=[refused(202, 26, "Recipient opted out")], status="failed", error_code="26", opt_outs=[TO]),
    OutboundCase("opted out, a 400: failed and stopped", "hi", responses=[refused(400, 26, "Recipient opted out")],
                 status="failed", error_code="26", opt_outs=[TO]),
    OutboundCase("opted out, as an error object", "hi", status="failed", error_code="26", opt_outs=[TO],
                 responses=[(400, json.dumps({"messages": [{"apiMessageId": None, "accepted": False, "to": "1",
                                                            "error": {"code": 26, "description": "opted out"}}]}))]),
    OutboundCase("invalid recipient: failed", "hi", responses=[refused(400, 25, "Invalid recipient address")],
                 status="failed", error_code="25", opt_outs=[]),
    OutboundCase("wrong API key: failed", "hi", status="failed", error_code="1",
                 responses=[refused(401, 1, "Invalid or missing Integration API Key", level="request")]),
    OutboundCase("out of credit: failed", "hi", status="failed", error_code="20",
                 responses=[refused(402, 20, "Insufficient account balance", level="request")]),
    OutboundCase("rate limit (43): retryable", "hi", status="errored", error_code="43",
                 responses=[refused(429, 43, "Rate limit reached", level="request")]),
    OutboundCase("internal error, retry (19): retryable", "hi", status="errored", error_code="19",
                 responses=[refused(503, 19, "Internal error, please retry", level="request")]),
    OutboundCase("the second part fails: the send stops there", LONG, settings={"max_length": 160},
                 responses=[ok("id-1"), refused(400, 24, "Maximum message content size exceeded")], status="failed",
                 error_code="24",
                 requests=[ExpectedRequest(params=params(PART1)), ExpectedRequest(params=params(PART2))]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_send(smsgate_harness, case: OutboundCase) -> None:
    run_outbound_case(smsgate_harness, "clickatell", BASE, case)


def test_the_reason_keeps_clickatells_words(smsgate_harness) -> None:
    case = OutboundCase("opted out", "hi", responses=[refused(400, 26, "Recipient opted out.")], status="failed")
    outcome = run_outbound_case(smsgate_harness, "clickatell", BASE, case)
    assert outcome.message.error_reason == "Clickatell error 26: Recipient opted out."
