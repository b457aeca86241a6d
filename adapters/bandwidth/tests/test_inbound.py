"""Callbacks of the `bandwidth` adapter (incoming messages and delivery reports), as tables through smsgate's kit."""

from __future__ import annotations

import httpx
import pytest
from smsgate.testing import InboundCase, run_inbound_case

CHANNEL = {"adapter": "bandwidth", "address": "2020", "country": "US", "api_key": "k3y-bandwidth-0123456789"}
R, S = "/c/ch/receive", "/c/ch/status"
MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
NUMBER = "+2349067554729"

RECEIVE = [
    InboundCase("form", R, data={"from": NUMBER, "to": "2020", "text": "Join", "id": "mo-1"},
                contains=["Message Accepted"],
                messages=[{"from": NUMBER, "to": "2020", "text": "Join", "external_ids": ["mo-1"]}]),
    InboundCase("JSON", R, json={"from": NUMBER, "text": "Join", "id": "mo-2"},
                messages=[{"from": NUMBER, "text": "Join", "external_ids": ["mo-2"]}]),
    InboundCase("a local number takes the channel's country", R, data={"from": "2065551234", "text": "hi", "id": "3"},
                messages=[{"from": "+12065551234", "text": "hi"}]),
    InboundCase("empty text is a message", R, data={"from": NUMBER, "id": "mo-4"}, messages=[{"text": ""}]),
    InboundCase("unicode", R, data={"from": NUMBER, "text": "Habari ☺", "id": "mo-5"},
                messages=[{"text": "Habari ☺"}]),
    InboundCase("no sender", R, data={"text": "hi", "id": "x"}, status=400, contains=["field 'from' required"],
                messages=[]),
    InboundCase("no id", R, data={"from": NUMBER, "text": "hi"}, status=400, contains=["field 'id' required"],
                messages=[]),
    InboundCase("a sender id is not a possible number", R, data={"from": "MTN", "text": "hi", "id": "x"},
                status=400, contains=["not a possible number"], messages=[]),
    InboundCase("GET is not served", R + "?from=%2B2349067554729&id=x", method="GET", status=405),
]

STATUS = [
    InboundCase("delivered", S, data={"id": "ext-1", "status": "delivered"}, contains=["Status Update Accepted"],
                statuses={MSG_ID: "delivered"}),
    InboundCase("sent, as JSON", S, json={"id": "ext-1", "status": "sent"}, statuses={MSG_ID: "sent"}),
    InboundCase("failed, with an error code", S, data={"id": "ext-1", "status": "failed", "error_code": "9"},
                statuses={MSG_ID: "failed"}),
    InboundCase("status in another case", S, data={"id": "ext-1", "status": "DELIVERED"},
                statuses={MSG_ID: "delivered"}),
    InboundCase("an unknown id is still stored and answered 200", S, data={"id": "nope", "status": "delivered"},
                statuses={MSG_ID: "wired"}),
    InboundCase("unknown status", S, data={"id": "ext-1", "status": "bogus"}, status=400,
                contains=["unknown status 'bogus'"], statuses={MSG_ID: "wired"}),
    InboundCase("no id", S, data={"status": "delivered"}, status=400, contains=["field 'id' required"]),
]


@pytest.mark.parametrize("case", RECEIVE, ids=[c.label for c in RECEIVE])
def test_receive(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(smsgate_harness({"ch": CHANNEL}), case)


@pytest.mark.parametrize("case", STATUS, ids=[c.label for c in STATUS])
def test_status(smsgate_harness, case: InboundCase) -> None:
    harness = smsgate_harness({"ch": CHANNEL}, respond=lambda request: httpx.Response(200, json={"id": "ext-1"}))
    assert harness.send("ch", "+250788383383", "hi", id=MSG_ID).message.external_ids == ["ext-1"]
    run_inbound_case(harness, case)
