"""Callbacks of the `clickatell` adapter (reply callbacks and delivery notifications, JSON), as kit tables."""

from __future__ import annotations

import json

import httpx
import pytest
from smsgate.testing import InboundCase, run_inbound_case

CHANNEL = {"adapter": "clickatell", "address": "2020", "country": "US", "api_key": "fake-clickatell-key-73a9"}
R, S = "/c/ch/receive", "/c/ch/status"
MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
MO = {"integrationName": "RapidPro", "messageId": "1234", "replyMessageId": "r-5678", "fromNumber": "250788383383",
      "toNumber": "2020", "timestamp": 1516217711000, "text": "Hello World!", "charset": "UTF-8"}
UTF16 = ("%00m%00e%00x%00i%00c%00o%00+%00k%00+%00m%00i%00s%00+%00p%00a%00p%00a%00s%00+%00n%00o%00+%00t%00e%00n%00%ED"
         "%00a%00+%00d%00i%00n%00e%00r%00o%00+%00p%00a%00r%00a%00+%00c%00o%00m%00p%00r%00a%00r%00n%00o%00s%00+%00l"
         "%00o%00+%00q%00+%00q%00u%00e%00r%00%ED%00a%00m%00o%00s%00.%00.")
UTF16_TEXT = "mexico k mis papas no tenía dinero para comprarnos lo q queríamos.."
MISSING_MO = "missing one of 'messageId', 'fromNumber', 'text' or 'timestamp' in request body"

RECEIVE = [
    InboundCase("a reply (UTF-8)", R, json=MO, contains=["Message Accepted"],
                messages=[{"from": "+250788383383", "to": "2020", "text": "Hello World!", "external_ids": ["r-5678"],
                           "received_at": "2018-01-17T19:35:11.000000+00:00"}]),
    InboundCase("without replyMessageId: messageId is the id", R,
                json={k: v for k, v in MO.items() if k != "replyMessageId"}, messages=[{"external_ids": ["1234"]}]),
    InboundCase("two replies to one message are two messages", R, json={**MO, "replyMessageId": "r-9999"},
                messages=[{"external_ids": ["r-9999"]}]),
    InboundCase("keys in any case", R, json={"MESSAGEID": "9", "FromNumber": "250788383383", "TIMESTAMP": 1516217711000,
                                             "Text": "hi"}, messages=[{"text": "hi"}]),
    InboundCase("ISO-8859-1", R, json={**MO, "text": "hello%21", "charset": "ISO-8859-1"},
                messages=[{"text": "hello!"}]),
    InboundCase("ISO-8859-1 accents", R, json={**MO, "text": "caf%E9+cr%E8me", "charset": "ISO-8859-1"},
                messages=[{"text": "café crème"}]),
    InboundCase("ISO-8859-1 with a malformed escape keeps it", R,
                json={**MO, "text": "100%+sure", "charset": "ISO-8859-1"}, messages=[{"text": "100% sure"}]),
    InboundCase("UTF-16BE", R, json={**MO, "text": UTF16, "charset": "UTF-16BE"}, messages=[{"text": UTF16_TEXT}]),
    InboundCase("UTF-16BE emoji (a surrogate pair)", R, json={**MO, "text": "%D8%3D%DE%00", "charset": "UTF-16BE"},
                messages=[{"text": "😀"}]),
    InboundCase("UTF-8 text is not percent-decoded", R, json={**MO, "text": "50%25 off"},
                messages=[{"text": "50%25 off"}]),
    InboundCase("a sender id is not a possible number", R, json={**MO, "fromNumber": "MTN"}, status=400,
                contains=["not a possible number"], messages=[]),
    InboundCase("not JSON", R, body="foo", headers={"content-type": "application/json"}, status=400,
                contains=["unable to parse request JSON"], messages=[]),
    InboundCase("a JSON array", R, json=[MO], status=400, contains=["unable to parse request JSON"], messages=[]),
    InboundCase("empty object", R, json={}, status=400, contains=[MISSING_MO], messages=[]),
    InboundCase("empty text", R, json={**MO, "text": ""}, status=400, contains=[MISSING_MO], messages=[]),
    InboundCase("timestamp as a string", R, json={**MO, "timestamp": "1516217711000"}, status=400,
                contains=["unable to parse request JSON"], messages=[]),
    InboundCase("GET is not served", R, method="GET", status=405),
]

STATUS = [
    InboundCase("4: received by the handset, delivered", S, json={"messageId": "msg1", "statusCode": 4},
                contains=["Status Update Accepted"], statuses={MSG_ID: "delivered"}),
    InboundCase("3: sent", S, json={"messageId": "msg1", "statusCode": 3}, statuses={MSG_ID: "sent"}),
    InboundCase("2: queued changes nothing after wired", S, json={"messageId": "msg1", "statusCode": 2},
                statuses={MSG_ID: "wired"}),
    InboundCase("5: failed", S, json={"messageId": "msg1", "statusCode": 5, "status": "ERROR_WITH_MESSAGE"},
                statuses={MSG_ID: "failed"}),
    InboundCase("keys in any case", S, json={"MESSAGEID": "msg1", "statuscode": 4}, statuses={MSG_ID: "delivered"}),
    InboundCase("an unknown code", S, json={"messageId": "msg1", "statusCode": 13}, status=400,
                contains=["unknown status '13', must be one of 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14"],
                statuses={MSG_ID: "wired"}),
    InboundCase("a negative code", S, json={"messageId": "msg1", "statusCode": -1}, status=400,
                contains=["unknown status '-1'"]),
    InboundCase("empty object", S, json={}, status=400,
                contains=["missing one of 'messageId' or 'statusCode' in request parameters"]),
    InboundCase("statusCode as a string", S, json={"messageId": "msg1", "statusCode": "4"}, status=400,
                contains=["unable to parse request JSON"], statuses={MSG_ID: "wired"}),
    InboundCase("not JSON", S, body="foo", headers={"content-type": "application/json"}, status=400,
                contains=["unable to parse request JSON"]),
    InboundCase("an unknown message id is stored and answered 200", S, json={"messageId": "nope", "statusCode": 4},
                statuses={MSG_ID: "wired"}),
    InboundCase("GET is not served", S, method="GET", status=405),
]


@pytest.mark.parametrize("case", RECEIVE, ids=[c.label for c in RECEIVE])
def test_receive(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(smsgate_harness({"ch": CHANNEL}), case)


def sent(smsgate_harness):
    harness = smsgate_harness({"ch": CHANNEL}, respond=lambda request: httpx.Response(
        202, json={"messages": [{"apiMessageId": "msg1", "accepted": True, "to": "250788383383"}]}))
    assert harness.send("ch", "+250788383383", "hi", id=MSG_ID).message.external_ids == ["msg1"]
    return harness


@pytest.mark.parametrize("case", STATUS, ids=[c.label for c in STATUS])
def test_status(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(sent(smsgate_harness), case)


def test_a_failure_keeps_its_code_and_description(smsgate_harness) -> None:
    harness = sent(smsgate_harness)
    run_inbound_case(harness, InboundCase("7", S, json={"messageId": "msg1", "statusCode": 7,
                                                         "statusDescription": "Error delivering message"},
                                          statuses={MSG_ID: "failed"}))
    message = harness.message(MSG_ID)
    assert message is not None
    assert (message.error_code, message.error_reason) == ("7", "Clickatell status 7: Error delivering message")


def test_the_api_key_in_a_callback_body_is_masked(smsgate_harness) -> None:
    harness = smsgate_harness({"ch": CHANNEL})
    run_inbound_case(harness, InboundCase("apiKey echoed", R, json={**MO, "apiKey": CHANNEL["api_key"]},
                                          messages=[{"text": "Hello World!"}]))
    assert CHANNEL["api_key"] not in json.dumps([m.as_dict() for m in harness.messages()])
