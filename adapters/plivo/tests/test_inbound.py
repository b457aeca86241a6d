"""Callbacks of the `plivo` adapter (incoming messages and status reports), as tables through smsgate's kit.

Every callback is signed as Plivo signs it (X-Plivo-Signature-V2 over the URL it called and a nonce); the
signature's own cases are at the end of each table and in test_signature.py.
"""

from __future__ import annotations

import json

import httpx
import pytest
from smsgate.testing import InboundCase, run_inbound_case
from smsgate_plivo import signature_v2

TOKEN = "fake-plivo-token-6c1e0b"
CHANNEL = {"adapter": "plivo", "address": "2020", "country": "MY", "auth_id": "MAFAKEPLIVOAUTHID000",
           "auth_token": TOKEN, "app_id": "app-1"}
R, S = "/c/ch/receive", "/c/ch/status"
MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
NONCE = "05429567804466091622"


def signed(path: str, token: str = TOKEN, header: str = "X-Plivo-Signature-V2") -> dict[str, str]:
    """The headers Plivo sends with a callback to `path` on the harness's public URL."""
    return {header: signature_v2(token, f"https://gateway.example{path}", NONCE),
            "X-Plivo-Signature-V2-Nonce": NONCE}


MO = {"To": "2020", "From": "60124361111", "Text": "Hello", "Type": "sms", "MessageUUID": "abc1234",
      "TotalRate": "0", "Units": "1", "TotalAmount": "0"}
SIG_R = signed(R)

RECEIVE = [
    InboundCase("an SMS", R, data=MO, headers=SIG_R, contains=["Message Accepted"],
                messages=[{"from": "+60124361111", "to": "2020", "text": "Hello", "external_ids": ["abc1234"]}]),
    InboundCase("field names in any case", R, headers=SIG_R,
                data={"to": "2020", "from": "60124361111", "text": "hi", "messageuuid": "abc-lower"},
                messages=[{"text": "hi", "external_ids": ["abc-lower"]}]),
    InboundCase("empty text is a message", R, data={**MO, "Text": "", "MessageUUID": "m5"}, headers=SIG_R,
                messages=[{"text": ""}]),
    InboundCase("the channel's number with a plus", R, data={**MO, "To": "+2020", "MessageUUID": "m6"},
                headers=SIG_R, messages=[{"from": "+60124361111"}]),
    InboundCase("an MMS: Body and its media", R, headers=SIG_R,
                data={"To": "2020", "From": "60124361111", "Type": "mms", "Body": "look", "MediaCount": "2",
                      "Media1": "https://media.plivo.example/1.jpg", "Media2": "https://media.plivo.example/2.png",
                      "MessageUUID": "mms-1"},
                messages=[{"text": "look", "attachments": ["https://media.plivo.example/1.jpg",
                                                            "https://media.plivo.example/2.png"]}]),
    InboundCase("a sender id is not a possible number", R, data={**MO, "From": "MTN"}, headers=SIG_R, status=400,
                contains=["not a possible number"], messages=[]),
    InboundCase("another number than the channel's", R, data={**MO, "To": "1515"}, headers=SIG_R, status=400,
                contains=["invalid to number [1515], expecting [2020]"], messages=[]),
    InboundCase("no To", R, data={k: v for k, v in MO.items() if k != "To"}, headers=SIG_R, status=400,
                contains=["field 'To' required"], messages=[]),
    InboundCase("no signature", R, data=MO, status=403, contains=["missing request signature"], messages=[]),
    InboundCase("signed with another token", R, data=MO, headers=signed(R, "another-token"), status=403,
                contains=["invalid request signature for https://gateway.example/c/ch/receive"], messages=[]),
    InboundCase("signed for another URL", R, data=MO, headers=signed("/c/other/receive"), status=403,
                contains=["invalid request signature"], messages=[]),
    InboundCase("the main account's signature alone", R, data={**MO, "MessageUUID": "ma-1"},
                headers=signed(R, header="X-Plivo-Signature-Ma-V2"), messages=[{"external_ids": ["ma-1"]}]),
    InboundCase("the query string is not signed", R + "?via=proxy", data={**MO, "MessageUUID": "q-1"},
                headers=SIG_R, messages=[{"external_ids": ["q-1"]}]),
    InboundCase("GET is not served", R, method="GET", params=MO, headers=SIG_R, status=405),
]


def report(status: str, **extra: str) -> dict[str, str]:
    return {"MessageUUID": "12345", "Status": status, "To": "60124361111", "From": "2020", **extra}


SIG_S = signed(S)
WITH_ID = f"{S}?id={MSG_ID}"

STATUS = [
    InboundCase("delivered", S, data=report("delivered", ErrorCode="000"), headers=SIG_S,
                contains=["Status Update Accepted", '"status":"delivered"'], statuses={MSG_ID: "delivered"}),
    InboundCase("field names in any case", S, headers=SIG_S,
                data={"messageuuid": "12345", "status": "delivered", "to": "+60124361111", "from": "2020"},
                statuses={MSG_ID: "delivered"}),
    InboundCase("sent, for a part Plivo split itself (ParentMessageUUID)", S, headers=SIG_S,
                data=report("sent", MessageUUID="123", ParentMessageUUID="12345"), statuses={MSG_ID: "sent"}),
    InboundCase("queued changes nothing after wired", S, data=report("queued"), headers=SIG_S,
                statuses={MSG_ID: "wired"}),
    InboundCase("undelivered is a failure", S, data=report("undelivered", ErrorCode="30"), headers=SIG_S,
                statuses={MSG_ID: "failed"}, opt_outs=[]),
    InboundCase("failed with 200: failed, and the recipient opted out", S, headers=SIG_S,
                data=report("failed", ErrorCode="200"), statuses={MSG_ID: "failed"}, opt_outs=["+60124361111"]),
    InboundCase("rejected", S, data=report("rejected"), headers=SIG_S, statuses={MSG_ID: "failed"}),
    InboundCase("our id in the URL finds the message whatever Plivo's uuid", WITH_ID, headers=SIG_S,
                data=report("delivered", MessageUUID="not-recorded-yet"), statuses={MSG_ID: "delivered"}),
    InboundCase("an unknown status is ignored", S, data=report("UNKNOWN"), headers=SIG_S,
                contains=["ignoring unknown status 'UNKNOWN'"], statuses={MSG_ID: "wired"}),
    InboundCase("read (WhatsApp) is ignored", S, data=report("read"), headers=SIG_S,
                contains=["ignoring unknown status 'read'"], statuses={MSG_ID: "wired"}),
    InboundCase("a report from another number", S, data=report("delivered", From="1515"), headers=SIG_S, status=400,
                contains=["invalid from number [1515], expecting [2020]"], statuses={MSG_ID: "wired"}),
    InboundCase("no MessageUUID", S, data={k: v for k, v in report("delivered").items() if k != "MessageUUID"},
                headers=SIG_S, status=400, contains=["field 'MessageUUID' required"]),
    InboundCase("no signature", S, data=report("delivered"), status=403, statuses={MSG_ID: "wired"}),
]


@pytest.mark.parametrize("case", RECEIVE, ids=[c.label for c in RECEIVE])
def test_receive(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(smsgate_harness({"ch": CHANNEL}), case)


def sent(smsgate_harness):
    harness = smsgate_harness({"ch": CHANNEL}, respond=lambda request: httpx.Response(
        202, json={"api_id": "a", "message": "message(s) queued", "message_uuid": ["12345"]}))
    assert harness.send("ch", "+60124361111", "hi", id=MSG_ID).message.external_ids == ["12345"]
    return harness


@pytest.mark.parametrize("case", STATUS, ids=[c.label for c in STATUS])
def test_status(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(sent(smsgate_harness), case)


def test_a_failure_keeps_plivos_error_code(smsgate_harness) -> None:
    harness = sent(smsgate_harness)
    run_inbound_case(harness, InboundCase("undelivered", S, data=report("undelivered", ErrorCode="30"),
                                          headers=SIG_S, statuses={MSG_ID: "failed"}))
    message = harness.message(MSG_ID)
    assert message is not None
    assert (message.error_code, message.error_reason) == ("30", "Plivo error 30: spam detected")


def test_signatures_can_be_switched_off(smsgate_harness) -> None:
    harness = smsgate_harness({"ch": {**CHANNEL, "validate_signatures": False}})
    run_inbound_case(harness, InboundCase("unsigned", R, data=MO, messages=[{"text": "Hello"}]))


def test_secrets_posted_to_a_callback_are_masked(smsgate_harness) -> None:
    harness = smsgate_harness({"ch": CHANNEL})
    run_inbound_case(harness, InboundCase("token echoed", R, data={**MO, "Extra": TOKEN}, headers=SIG_R,
                                          messages=[{"text": "Hello"}]))
    assert TOKEN not in json.dumps([m.as_dict() for m in harness.messages()])
