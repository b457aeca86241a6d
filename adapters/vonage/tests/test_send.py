"""Outgoing requests of the `vonage` adapter, as a table of cases through smsgate's kit (`OutboundCase`).

The cases restate Vonage's SMS API reference (the form of `POST /sms/json`, its answers and status codes) and
courier's NX handler tests; where smsgate differs from courier the case says so (README.md lists why).
"""

from __future__ import annotations

import json

import pytest
from smsgate.testing import ExpectedRequest, OutboundCase, run_outbound_case

KEY, SECRET = "k3y-vonage-0001", "s3cret-vonage-0002"
BASE = {"address": "2020", "country": "US", "api_key": KEY, "api_secret": SECRET, "max_attempts": 1}
URL = "https://rest.nexmo.com/sms/json"
APPOINTMENT = ("Your appointment at the district health centre is confirmed for Monday at nine. Please bring your "
               "card and arrive fifteen minutes early so the nurse can check you in.")
APPOINTMENT_PARTS = ["Your appointment at the district health centre is confirmed for Monday at nine.",
                     "Please bring your card and arrive fifteen minutes early so the nurse can check", "you in."]
HABARI = "Habari ☺ " * 12


def form(text: str, kind: str = "text", sender: str = "2020") -> dict[str, str]:
    return {"api_key": KEY, "api_secret": SECRET, "from": sender, "to": "250788383383", "text": text, "type": kind,
            "status-report-req": "1", "callback": "https://gateway.example/c/test/status"}


def ok(*ids: str) -> tuple[int, str]:
    return 200, json.dumps({"message-count": str(len(ids)), "messages": [
        {"to": "250788383383", "message-id": i, "status": "0", "remaining-balance": "3.14",
         "message-price": "0.0333", "network": "63510"} for i in ids]})


def refused(code: str, text: str = "") -> tuple[int, str]:
    return 200, json.dumps({"message-count": "1", "messages": [{"status": code, "error-text": text}]})


THROUGHPUT = "Throughput Rate Exceeded - please wait [ 250 ] and retry"

CASES = [
    OutboundCase("plain: one form POST", "Hello there", responses=[ok("0A01")], external_ids=["0A01"],
                 requests=[ExpectedRequest(method="POST", url=URL, form=form("Hello there"),
                                           headers={"Content-Type": "application/x-www-form-urlencoded"})]),
    OutboundCase("unicode: type=unicode", "Bonjour ☺", responses=[ok("0A02")],
                 requests=[ExpectedRequest(form=form("Bonjour ☺", "unicode"))]),
    OutboundCase("GSM-7's extension table is still type=text", "Price: 5€ [promo] {ok}", responses=[ok("0A03")],
                 requests=[ExpectedRequest(form=form("Price: 5€ [promo] {ok}"))]),
    OutboundCase("a long text: one request per part, every id kept (courier keeps the first)", APPOINTMENT,
                 settings={"max_length": 80}, responses=[ok("A"), ok("B"), ok("C")], external_ids=["A", "B", "C"],
                 requests=[ExpectedRequest(form=form(part)) for part in APPOINTMENT_PARTS]),
    OutboundCase("the type is decided on the whole text: every part unicode", HABARI, settings={"max_length": 70},
                 responses=[ok("A"), ok("B")],
                 requests=[ExpectedRequest(form=form("Habari ☺ Habari ☺ Habari ☺ Habari ☺ Habari ☺ Habari ☺",
                                                     "unicode"))] * 2),
    OutboundCase("Vonage splits a request into SMS: every message-id kept", "Hello there",
                 responses=[ok("0A10", "0A11")], external_ids=["0A10", "0A11"]),
    OutboundCase("attachment: its URL on a line of its own", "See",
                 attachments=["image/jpeg:https://x.example/a.jpg"], responses=[ok("0A04")],
                 requests=[ExpectedRequest(form=form("See\nhttps://x.example/a.jpg"))]),
    OutboundCase("one leading + of the address is dropped", "hi", settings={"address": "+12065551212"},
                 responses=[ok("0A05")], requests=[ExpectedRequest(form=form("hi", sender="12065551212"))]),
    OutboundCase("quota: failed with Vonage's name for it", "hi", responses=[refused("9", "Quota Exceeded")],
                 status="failed", error_code="send:9"),
    OutboundCase("invalid credentials: failed", "hi", responses=[refused("4", "Bad Credentials")], status="failed",
                 error_code="send:4"),
    OutboundCase("an unknown status: failed", "hi", responses=[refused("99")], status="failed", error_code="send:99"),
    OutboundCase("throughput exceeded: retryable", "hi", responses=[refused("1", THROUGHPUT)], status="errored",
                 error_code="send:1"),
    OutboundCase("throttled without the text: retryable too (courier fails it)", "hi",
                 responses=[refused("1", "Throttled")], status="errored", error_code="send:1"),
    OutboundCase("too many binds: retryable (courier fails it)", "hi", responses=[refused("10")], status="errored",
                 error_code="send:10"),
    OutboundCase("internal error: retryable (courier fails it)", "hi", responses=[refused("5", "Internal Error")],
                 status="errored", error_code="send:5"),
    OutboundCase("number barred: failed, and the contact is stopped (courier only fails it)", "hi",
                 responses=[refused("7", "Number barred")], status="failed", error_code="send:7",
                 opt_outs=["+250788383383"]),
    OutboundCase("throttled, then accepted: retried after the wait Vonage asks for", "hi",
                 settings={"max_attempts": 2, "max_retry_wait": 1},
                 responses=[refused("1", THROUGHPUT), ok("0A06")], external_ids=["0A06"],
                 requests=[ExpectedRequest(form=form("hi"))] * 2),
    OutboundCase("HTTP 429: retryable", "hi", responses=[(429, "")], status="errored", error_code="429"),
    OutboundCase("HTTP 500: retryable", "hi", responses=[(500, "")], status="errored", error_code="500"),
    OutboundCase("HTTP 401: failed", "hi", responses=[(401, "Invalid API token")], status="failed", error_code="401"),
    OutboundCase("a 200 without messages: failed", "hi", responses=[(200, "{}")], status="failed",
                 error_code="response_content"),
    OutboundCase("Vonage took the first SMS only: failed, not retried, its id kept", "hi",
                 responses=[(200, json.dumps({"message-count": "2", "messages": [
                     {"status": "0", "message-id": "0A20"}, {"status": "1", "error-text": THROUGHPUT}]}))],
                 status="failed", error_code="send:1", external_ids=["0A20"]),
    OutboundCase("part 2 refused: failed, part 1's id kept", APPOINTMENT, settings={"max_length": 80},
                 responses=[ok("A"), refused("4", "Bad Credentials")], status="failed", error_code="send:4",
                 external_ids=["A"], requests=[ExpectedRequest(form=form(p)) for p in APPOINTMENT_PARTS[:2]]),
    OutboundCase("part 2 barred: the contact is stopped too", APPOINTMENT, settings={"max_length": 80},
                 responses=[ok("A"), refused("7")], status="failed", error_code="send:7", opt_outs=["+250788383383"]),
    OutboundCase("no address: failed before any request", "hi", settings={"address": ""}, status="failed",
                 error_code="channel_config", requests=[]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_send(smsgate_harness, case: OutboundCase) -> None:
    run_outbound_case(smsgate_harness, "vonage", BASE, case)


def test_segments_count_vonage_s_sms(smsgate_harness) -> None:
    outcome = run_outbound_case(smsgate_harness, "vonage", BASE, OutboundCase(
        "segments", APPOINTMENT, settings={"max_length": 80}, responses=[ok("A", "B"), ok("C"), ok("D")]))
    assert outcome.message.segments == 4 and outcome.message.external_ids == ["A", "B", "C", "D"]
