"""Outgoing requests of the `zenvia` adapter, as a table of cases through smsgate's kit (`OutboundCase`).

Each case names the text, the fake aggregator's answers, and what must be sent and stored; `run_outbound_case`
also checks that a channel log was written and that no secret appears in it.
"""

from __future__ import annotations

import json

import pytest
from smsgate.testing import ExpectedRequest, OutboundCase, run_outbound_case

KEY = "k3y-zenvia-0123456789"
BASE = {"address": "2020", "country": "US", "api_key": KEY, "base_url": "https://api.zenvia.example",
        "max_attempts": 1}
URL = "https://api.zenvia.example/messages"
HEADERS = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
LONG = "This is a long message that will be longer than 30....... characters"
LONG_PARTS = ["This is a long message that", "will be longer than 30.......", "characters"]


def body(text: str, encoding: str = "gsm7") -> dict[str, str]:
    return {"from": "2020", "to": "+250788383383", "text": text, "encoding": encoding,
            "callback_url": "https://gateway.example/c/test/status"}


def ok(external_id: str) -> tuple[int, str]:
    return 200, json.dumps({"id": external_id})


def error(status: int, code: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    return status, json.dumps({"error": code, "message": f"error {code}"}), headers or {}


CASES = [
    OutboundCase("plain", "Simple Message", responses=[ok("ext-1")], external_ids=["ext-1"],
                 requests=[ExpectedRequest(method="POST", url=URL, json=body("Simple Message"), headers=HEADERS)]),
    OutboundCase("unicode goes as ucs2", "Bonjour ☺", responses=[ok("ext-2")],
                 requests=[ExpectedRequest(json=body("Bonjour ☺", "ucs2"))]),
    OutboundCase("long text: one request per part", LONG, settings={"max_length": 30},
                 responses=[ok("a"), ok("b"), ok("c")], external_ids=["a", "b", "c"],
                 requests=[ExpectedRequest(json=body(part)) for part in LONG_PARTS]),
    OutboundCase("max_length as a numeric string", LONG, settings={"max_length": "30"},
                 responses=[ok("a"), ok("b"), ok("c")], requests=[ExpectedRequest(json=body(p)) for p in LONG_PARTS]),
    OutboundCase("attachment: its URL on a line of its own", "My pic!", attachments=["image/jpeg:https://foo.bar/a.jpg"],
                 responses=[ok("ext-3")], requests=[ExpectedRequest(json=body("My pic!\nhttps://foo.bar/a.jpg"))]),
    OutboundCase("no id in the answer: wired, with nothing to match reports by", "hi", responses=[(200, "{}")],
                 external_ids=[]),
    OutboundCase("invalid number: failed", "hi", responses=[error(400, "invalid_number")], status="failed",
                 error_code="invalid_number"),
    OutboundCase("out of credit: failed", "hi", responses=[error(402, "insufficient_funds")], status="failed",
                 error_code="insufficient_funds"),
    OutboundCase("opted out: failed, and the contact is stopped", "hi", responses=[error(403, "opted_out")],
                 status="failed", error_code="opted_out", opt_outs=["+250788383383"]),
    OutboundCase("throttled: retryable", "hi", responses=[error(429, "throttled", {"Retry-After": "2"})],
                 status="errored", error_code="throttled"),
    OutboundCase("429 without a code: retryable", "hi", responses=[(429, "slow down")], status="errored",
                 error_code="429"),
    OutboundCase("server error: retryable", "hi", responses=[(500, "oops")], status="errored", error_code="500"),
    OutboundCase("unauthorized: failed", "hi", responses=[(401, "{}")], status="failed", error_code="401"),
    OutboundCase("the first failing part stops the send", LONG, settings={"max_length": 30},
                 responses=[ok("a"), error(400, "invalid_number")], status="failed", error_code="invalid_number",
                 requests=[ExpectedRequest(json=body(LONG_PARTS[0])), ExpectedRequest(json=body(LONG_PARTS[1]))]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_send(smsgate_harness, case: OutboundCase) -> None:
    run_outbound_case(smsgate_harness, "zenvia", BASE, case)
