"""Outgoing requests of the `jasmin` adapter, as a table of cases through smsgate's kit (`OutboundCase`).

Each case names the text, the fake Jasmin's answers, and what must be sent and stored; `run_outbound_case` also
checks that a channel log was written and that no secret (the password) appears in it. The cases follow courier's
handler tests where they exist (Username/Password, address `2020`).
"""

from __future__ import annotations

import urllib.parse

import httpx
import pytest
from smsgate import OutgoingMessage
from smsgate.testing import ExpectedRequest, OutboundCase, run_outbound_case

MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
BASE = {"address": "2020", "country": "RW", "send_url": "http://jasmin.example:1401/send", "username": "Username",
        "password": "Password-1", "max_attempts": 1}
DLR_URL = f"https://gateway.example/c/test/status?msg={MSG_ID}"
TO = "+250788383383"


def params(coding: str = "0", level: str = "2", **text: str) -> dict[str, str]:
    return {"username": "Username", "password": "Password-1", "to": "250788383383", "from": "2020", "dlr": "yes",
            "dlr-url": DLR_URL, "dlr-level": level, "dlr-method": "POST", "coding": coding, **text}


def sent(coding: str = "0", **text: str) -> ExpectedRequest:
    return ExpectedRequest(method="GET", path="/send", params=params(coding, **text))


def ok(external_id: str = "c2057d6d-472d-4bbb-a403-88468f244699") -> tuple[int, str]:
    return 200, f'Success "{external_id}"'


def refused(status: int, sentence: str) -> tuple[int, str]:
    return status, f'Error "{sentence}"'


CASES = [
    OutboundCase("plain GSM-7 (courier's params, our id in the dlr-url)", "Simple Message", to=TO,
                 responses=[ok("External ID1")], external_ids=["External ID1"],
                 requests=[sent(content="Simple Message")]),
    OutboundCase("parameters sorted by name, as courier sends them", "hi", to=TO, responses=[ok()],
                 requests=[ExpectedRequest(url="http://jasmin.example:1401/send?" + urllib.parse.urlencode(sorted(
                     {**params(content="hi")}.items())))]),
    OutboundCase("unicode: coding 8 and hex-content, no content", "☺", to=TO, responses=[ok()],
                 requests=[sent("8", **{"hex-content": "263a"})]),
    OutboundCase("emoji as UTF-16 surrogate pairs", "Привет 👋", to=TO, responses=[ok()],
                 requests=[sent("8", **{"hex-content": "041f044004380432043504420020d83ddc4b"})]),
    OutboundCase("smart quotes become GSM-7", "Fancy “Smart” Quotes", to=TO, responses=[ok()],
                 requests=[sent(content='Fancy "Smart" Quotes')]),
    OutboundCase("GSM-7 escapes stay GSM-7", "{1+1=2} €", to=TO, responses=[ok()],
                 requests=[sent(content="{1+1=2} €")]),
    OutboundCase("attachment: its URL on a line of the text", "My pic!", to=TO,
                 attachments=["image/jpeg:https://foo.bar/image.jpg"], responses=[ok()],
                 requests=[sent(content="My pic!\nhttps://foo.bar/image.jpg")]),
    OutboundCase("1000 GSM-7 characters: two calls within Jasmin's 5 parts (courier: 235 lost)", "x" * 1000, to=TO,
                 responses=[ok("a"), ok("b")], external_ids=["a", "b"],
                 requests=[sent(content="x" * 765), sent(content="x" * 235)]),
    OutboundCase("400 UCS-2 characters: 335 + 65", "Ж" * 400, to=TO, responses=[ok("a"), ok("b")],
                 requests=[sent("8", **{"hex-content": ("Ж" * 335).encode("utf-16-be").hex()}),
                           sent("8", **{"hex-content": ("Ж" * 65).encode("utf-16-be").hex()})]),
    OutboundCase("max_parts 1: a 199-character text in two calls, cut at a space in whole 153-septet parts",
                 ("word " * 40).strip(), to=TO, settings={"max_parts": 1}, responses=[ok("a"), ok("b")],
                 requests=[sent(content=("word " * 30).strip()), sent(content=("word " * 10).strip())]),
    OutboundCase("max_length: courier's byte split first", "hello world, how are you", to=TO,
                 settings={"max_length": 12}, responses=[ok("a"), ok("b"), ok("c")],
                 requests=[sent(content="hello world,"), sent(content="how are"), sent(content="you")]),
    OutboundCase("dlr_level 3 asks for both receipts", "hi", to=TO, settings={"dlr_level": 3}, responses=[ok()],
                 requests=[ExpectedRequest(params=params(level="3", content="hi"))]),
    OutboundCase("no address: no from", "hi", to=TO, settings={"address": ""}, responses=[ok()],
                 requests=[ExpectedRequest(params={k: v for k, v in params(content="hi").items() if k != "from"})]),
    OutboundCase("a 200 without Success: wired without an id (courier)", "hi", to=TO, responses=[(200, "OK")],
                 external_ids=[]),
    OutboundCase("authentication failure: failed, Jasmin's sentence kept", "hi", to=TO,
                 responses=[refused(403, "Authentication failure for username:Username")], status="failed",
                 error_code="403"),
    OutboundCase("401 (courier's case): failed", "hi", to=TO, responses=[(401, "Failed Sending")], status="failed",
                 error_code="401"),
    OutboundCase("no route: failed", "hi", to=TO, responses=[refused(412, "No route found")], status="failed",
                 error_code="412"),
    OutboundCase("an unknown argument: failed", "hi", to=TO, responses=[refused(400, "Argument [foo] is unknown.")],
                 status="failed", error_code="400"),
    OutboundCase("cannot charge: failed", "hi", to=TO, responses=[refused(403, "Cannot charge submit_sm, ...")],
                 status="failed", error_code="403"),
    OutboundCase("user throughput exceeded: throttled, retryable", "hi", to=TO,
                 responses=[refused(403, "User throughput exceeded")], status="errored",
                 error_code="throughput_exceeded"),
    OutboundCase("429: retryable", "hi", to=TO, responses=[(429, "")], status="errored", error_code="429"),
    OutboundCase("cannot send submit_sm (500): retryable", "hi", to=TO,
                 responses=[refused(500, "Cannot send submit_sm, check SMPPClientManagerPB log file for details")],
                 status="errored", error_code="500"),
    OutboundCase("interceptor not set (503): retryable", "hi", to=TO,
                 responses=[refused(503, "InterceptorPB not set !")], status="errored", error_code="503"),
    OutboundCase("the first failing call stops the send", "x" * 1000, to=TO,
                 responses=[ok("a"), refused(412, "No route found")], status="failed", error_code="412",
                 requests=[sent(content="x" * 765), sent(content="x" * 235)]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_send(smsgate_harness, case: OutboundCase) -> None:
    run_outbound_case(smsgate_harness, "jasmin", BASE, case)


def test_the_reason_is_jasmins_sentence(smsgate_harness) -> None:
    outcome = run_outbound_case(smsgate_harness, "jasmin", BASE, OutboundCase(
        "412", "hi", to=TO, responses=[refused(412, "No route found")], status="failed"))
    assert outcome.message.error_reason == "HTTP 412 from jasmin.example: No route found"


def test_segments_count_every_call(smsgate_harness) -> None:
    outcome = run_outbound_case(smsgate_harness, "jasmin", BASE, OutboundCase(
        "segments", "x" * 1000, to=TO, responses=[ok("a"), ok("b")]))
    assert outcome.message.segments == 7  # 5 + 2 parts of 153 septets


def test_high_priority_sends_no_priority_parameter(smsgate_harness) -> None:
    """As courier: Jasmin refuses `priority` for a user without the set_priority authorization."""
    h = smsgate_harness({"test": {"adapter": "jasmin", **BASE}},
                        respond=lambda request: httpx.Response(200, text='Success "x"'))
    assert h.send("test", TO, "urgent", id=MSG_ID, high_priority=True).message.status == "wired"
    [request] = h.requests
    assert dict(urllib.parse.parse_qsl(request.url.query.decode())) == params(content="urgent")


def test_nothing_to_send_fails_without_a_request(smsgate_harness) -> None:
    h = smsgate_harness({"test": {"adapter": "jasmin", **BASE}})
    outcome = h.send_message(OutgoingMessage(channel="test", to=TO, text="", id=MSG_ID))
    assert (outcome.message.status, outcome.message.error_code) == ("failed", "message_invalid")
    assert h.requests == []
