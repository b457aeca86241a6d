"""Africa's Talking's callbacks to the `africastalking` adapter, as tables through smsgate's kit: incoming
messages on `receive`/`callback`, delivery reports on `status`/`delivery`, bulk-SMS opt-outs on `optout`.

Cases restate Africa's Talking's notification references and courier's AT handler tests.
"""

from __future__ import annotations

import httpx
import pytest
from smsgate.testing import InboundCase, run_inbound_case

CHANNEL = {"adapter": "africastalking", "address": "2020", "country": "US", "username": "myapp",
           "api_key": "k3y-africastalking-0001"}
R, C, S, D, OPT = (f"/c/at/{a}" for a in ("receive", "callback", "status", "delivery", "optout"))
MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
MO = {"linkId": "03090445075804249226", "text": "Msg", "to": "21512", "id": "ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3",
      "date": "2017-05-03T06:04:45Z", "from": "+254791541111"}


def msg(**fields: object) -> list[dict[str, object]]:
    return [{"from": "+254791541111", "to": "21512", "text": "Msg",
             "external_ids": ["ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3"],
             "received_at": "2017-05-03T06:04:45.000000+00:00", **fields}]


RECEIVE = [
    InboundCase("an SMS", R, data=MO, contains=["Message Accepted"], messages=msg()),
    InboundCase("on callback, a date with a space", C, data={**MO, "date": "2017-05-03 06:04:45"}, messages=msg()),
    InboundCase("a date with a fraction", R, data={**MO, "date": "2017-05-03T06:04:45.380Z"},
                messages=msg(received_at="2017-05-03T06:04:45.380000+00:00")),
    InboundCase("unicode", R, data={**MO, "text": "Habari ☺"}, messages=msg(text="Habari ☺")),
    InboundCase("an empty SMS is a message (courier: 400)", R, data={**MO, "text": ""}, messages=msg(text="")),
    InboundCase("no date: the time of receipt (courier: 400)", R, data={k: v for k, v in MO.items() if k != "date"},
                messages=[{"text": "Msg"}]),
    InboundCase("no to: the channel's address (courier: 400)", R, data={k: v for k, v in MO.items() if k != "to"},
                messages=[{"to": "2020"}]),
    InboundCase("an empty body", R, body=b"empty", headers={"content-type": "application/x-www-form-urlencoded"},
                status=400, contains=["field 'id' required"], messages=[]),
    InboundCase("no from", R, data={k: v for k, v in MO.items() if k != "from"}, status=400,
                contains=["field 'from' required"], messages=[]),
    InboundCase("a sender id is not a possible number", R, data={**MO, "from": "MTN"}, status=400,
                contains=["not a possible number"], messages=[]),
    InboundCase("a date without seconds", R, data={**MO, "date": "2017-05-03T06:04"}, status=400,
                contains=["invalid date format"], messages=[]),
    InboundCase("a date with an offset", R, data={**MO, "date": "2017-05-03T06:04:45+03:00"}, status=400,
                contains=["invalid date format"], messages=[]),
    InboundCase("an impossible date", R, data={**MO, "date": "2017-02-30 06:04:45"}, status=400,
                contains=["invalid date format"], messages=[]),
    InboundCase("GET is not served", R + "?id=1&from=%2B254791541111", method="GET", status=405),
]

STATUS = [
    InboundCase("Success is delivered", S, data={"id": "ATXid_1", "status": "Success", "phoneNumber": "+250788383383",
                                                 "networkCode": "63510"},
                contains=["Status Update Accepted"], statuses={MSG_ID: "delivered"}),
    InboundCase("Sent, on delivery", D, data={"id": "ATXid_1", "status": "Sent"}, statuses={MSG_ID: "sent"}),
    InboundCase("Buffered is sent", D, data={"id": "ATXid_1", "status": "Buffered"}, statuses={MSG_ID: "sent"}),
    InboundCase("Submitted is sent (courier: 400)", S, data={"id": "ATXid_1", "status": "Submitted"},
                statuses={MSG_ID: "sent"}),
    InboundCase("Failed, with a reason", S, data={"id": "ATXid_1", "status": "Failed",
                                                  "failureReason": "DeliveryFailure", "retryCount": "0"},
                statuses={MSG_ID: "failed"}, opt_outs=[]),
    InboundCase("Rejected is failed", S, data={"id": "ATXid_1", "status": "Rejected"}, statuses={MSG_ID: "failed"}),
    InboundCase("Expired is failed", S, data={"id": "ATXid_1", "status": "Expired"}, statuses={MSG_ID: "failed"}),
    InboundCase("AbsentSubscriber is failed (courier: 400)", S, data={"id": "ATXid_1", "status": "AbsentSubscriber"},
                statuses={MSG_ID: "failed"}),
    InboundCase("blacklisted: failed, and the recipient opted out", S,
                data={"id": "ATXid_1", "status": "Failed", "phoneNumber": "+250788383383",
                      "failureReason": "UserInBlackList"}, statuses={MSG_ID: "failed"}, opt_outs=["+250788383383"]),
    InboundCase("an unknown status", S, data={"id": "ATXid_1", "status": "Borked"}, status=400,
                contains=["unknown status 'Borked'"], statuses={MSG_ID: "wired"}),
    InboundCase("no status", S, data={"id": "ATXid_1"}, status=400, contains=["field 'status' required"]),
    InboundCase("no id", S, data={"status": "Success"}, status=400, contains=["field 'id' required"]),
    InboundCase("an id smsgate never sent: stored, 200", S, data={"id": "nope", "status": "Success"},
                contains=["Status Update Accepted"], statuses={MSG_ID: "wired"}),
]

OPTOUT = [
    InboundCase("a bulk-SMS opt-out (courier has no route)", OPT,
                data={"senderId": "2020", "phoneNumber": "+254791541111"}, contains=["Event Accepted"],
                opt_outs=["+254791541111"]),
    InboundCase("no phoneNumber", OPT, data={"senderId": "2020"}, status=400, contains=["field 'phoneNumber' required"],
                opt_outs=[]),
]


@pytest.mark.parametrize("case", RECEIVE + OPTOUT, ids=[c.label for c in RECEIVE + OPTOUT])
def test_receive(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(smsgate_harness({"at": CHANNEL}), case)


@pytest.mark.parametrize("case", STATUS, ids=[c.label for c in STATUS])
def test_status(smsgate_harness, case: InboundCase) -> None:
    harness = smsgate_harness({"at": CHANNEL}, respond=lambda request: httpx.Response(201, json={"SMSMessageData": {
        "Message": "Sent to 1/1", "Recipients": [{"statusCode": 101, "status": "Success", "messageId": "ATXid_1"}]}}))
    assert harness.send("at", "+250788383383", "hi", id=MSG_ID).message.external_ids == ["ATXid_1"]
    run_inbound_case(harness, case)
