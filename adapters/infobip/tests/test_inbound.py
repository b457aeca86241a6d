"""Infobip's webhooks to the `infobip` adapter, as tables through smsgate's kit: incoming SMS and MMS on
`receive`, delivery reports on `delivered`.

Cases restate Infobip's inbound-message and delivery-report webhook references and courier's IB handler tests.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from smsgate.testing import InboundCase, run_inbound_case

CHANNEL = {"adapter": "infobip", "address": "2020", "country": "US", "api_key": "k3y-infobip-0001"}
R, D = "/c/ib/receive", "/c/ib/delivered"
MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"


def mo(**fields: Any) -> dict[str, Any]:
    result = {"messageId": "817790313235066447", "from": "385916242493", "to": "2020",
              "text": "QUIZ Correct answer is Paris", "cleanText": "Correct answer is Paris", "keyword": "QUIZ",
              "receivedAt": "2016-10-06T09:28:39.220+0000", "smsCount": 1,
              "price": {"pricePerMessage": 0, "currency": "EUR"}, "callbackData": "callbackData"}
    return {**result, **fields}


def inbound(*results: dict[str, Any], count: int | None = None) -> dict[str, Any]:
    return {"results": list(results), "messageCount": len(results) if count is None else count,
            "pendingMessageCount": 0}


def msg(**fields: Any) -> dict[str, Any]:
    return {"from": "+385916242493", "to": "2020", "text": "QUIZ Correct answer is Paris",
            "external_ids": ["817790313235066447"], "received_at": "2016-10-06T09:28:39.220000+00:00", **fields}


RECEIVE = [
    InboundCase("an SMS", R, json=inbound(mo()), contains=["Message Accepted"], messages=[msg()]),
    InboundCase("two SMS in one request", R, json=inbound(mo(), mo(messageId="2", text="second")),
                messages=[msg(), msg(text="second", external_ids=["2"])]),
    InboundCase("an MMS: text/plain segments are the text, the rest attachments", R, json=inbound(mo(
        text="", message=[{"contentType": "text/plain", "value": "Hi"},
                          {"contentType": "image/jpeg", "url": "https://ib.example/a.jpg"},
                          {"contentType": "text/plain", "value": "there"}])),
                messages=[msg(text="Hi\nthere", attachments=["image/jpeg:https://ib.example/a.jpg"])]),
    InboundCase("unicode", R, json=inbound(mo(text="Habari ☺")), messages=[msg(text="Habari ☺")]),
    InboundCase("receivedAt with Z (courier: 400)", R, json=inbound(mo(receivedAt="2016-10-06T09:28:39Z")),
                messages=[msg(received_at="2016-10-06T09:28:39.000000+00:00")]),
    InboundCase("receivedAt with another zone is stored in UTC", R,
                json=inbound(mo(receivedAt="2016-10-06T11:28:39.220+0200")), messages=[msg()]),
    InboundCase("messageCount 0 with a result: read all the same (courier ignores it)", R,
                json=inbound(mo(), count=0), messages=[msg()]),
    InboundCase("an empty text and no MMS content: ignored", R, json=inbound(mo(text="")),
                contains=["ignoring request, no message"], messages=[]),
    InboundCase("no results: 400", R, json={"unexpected": []}, status=400, contains=["'results'"], messages=[]),
    InboundCase("not JSON: 400", R, body=b"Invalid", headers={"content-type": "application/json"}, status=400,
                contains=["not valid JSON"]),
    InboundCase("a sender id is not a possible number: nothing stored", R,
                json=inbound(mo(messageId="ok-1"), mo(**{"from": "MTN"})), status=400,
                contains=["not a possible number"], messages=[]),
    InboundCase("receivedAt that is no time: 400", R, json=inbound(mo(receivedAt="yesterday")), status=400,
                contains=["invalid receivedAt 'yesterday'"], messages=[]),
    InboundCase("receivedAt without a zone: 400", R, json=inbound(mo(receivedAt="2016-10-06T09:28:39")), status=400,
                contains=["invalid receivedAt"], messages=[]),
    InboundCase("GET is not served", R, method="GET", status=405),
]


def report(group: int, group_name: str, status_id: int, name: str, message_id: str = MSG_ID,
           error: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"bulkId": "BULK-ID-123-xyz", "messageId": message_id, "to": "250788383383",
            "sentAt": "2019-11-09T16:00:00.000+0000", "doneAt": "2019-11-09T16:00:00.000+0000", "messageCount": 1,
            "price": {"pricePerMessage": 0.01, "currency": "EUR"},
            "status": {"groupId": group, "groupName": group_name, "id": status_id, "name": name,
                       "description": name.lower()},
            "error": error or {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR",
                               "description": "No Error", "permanent": False}}


DELIVERED = report(3, "DELIVERED", 5, "DELIVERED_TO_HANDSET")
STATUS = [
    InboundCase("delivered to the handset", D, json={"results": [DELIVERED]}, contains=["Status Update Accepted"],
                statuses={MSG_ID: "delivered"}),
    InboundCase("pending is sent", D, json={"results": [report(1, "PENDING", 7, "PENDING_ENROUTE")]},
                statuses={MSG_ID: "sent"}),
    InboundCase("delivered to the operator is only sent (courier: delivered)", D,
                json={"results": [report(3, "DELIVERED", 2, "DELIVERED_TO_OPERATOR")]}, statuses={MSG_ID: "sent"}),
    InboundCase("expired is failed (courier: sent)", D, json={"results": [report(4, "EXPIRED", 15, "EXPIRED_EXPIRED")]},
                statuses={MSG_ID: "failed"}),
    InboundCase("rejected is failed", D, json={"results": [report(5, "REJECTED", 6, "REJECTED_NETWORK")]},
                statuses={MSG_ID: "failed"}, opt_outs=[]),
    InboundCase("undeliverable is failed", D,
                json={"results": [report(2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED")]},
                statuses={MSG_ID: "failed"}),
    InboundCase("do-not-disturb: failed, and the recipient opted out", D,
                json={"results": [report(5, "REJECTED", 10, "REJECTED_DND")]}, statuses={MSG_ID: "failed"},
                opt_outs=["+250788383383"]),
    InboundCase("an unknown status among known ones: the others stored (courier: 400)", D,
                json={"results": [report(9, "UNEXPECTED", 99, "UNEXPECTED"), DELIVERED]},
                contains=["Status Update Accepted"], statuses={MSG_ID: "delivered"}),
    InboundCase("only an unknown status: 200, logged as an error", D,
                json={"results": [report(9, "UNEXPECTED", 99, "UNEXPECTED")]}, contains=["Ignored"],
                statuses={MSG_ID: "wired"}),
    InboundCase("an id smsgate never sent: stored, 200", D, json={"results": [report(3, "DELIVERED", 5, "D", "x")]},
                contains=["Status Update Accepted"], statuses={MSG_ID: "wired"}),
    InboundCase("empty results: 200", D, json={"results": []}, contains=["Ignored"]),
    InboundCase("no results: 400", D, json={"deliveryReport": []}, status=400, contains=["'results'"]),
    InboundCase("not JSON: 400", D, body=b"Invalid", headers={"content-type": "application/json"}, status=400,
                contains=["not valid JSON"]),
    InboundCase("a trailing slash", D + "/", json={"results": [DELIVERED]}, statuses={MSG_ID: "delivered"}),
]


@pytest.mark.parametrize("case", RECEIVE, ids=[c.label for c in RECEIVE])
def test_receive(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(smsgate_harness({"ib": CHANNEL}), case)


def sent(factory):
    harness = factory({"ib": CHANNEL}, respond=lambda request: httpx.Response(200, json={"messages": [
        {"messageId": MSG_ID, "status": {"groupId": 1, "groupName": "PENDING", "id": 26}}]}))
    assert harness.send("ib", "+250788383383", "hi", id=MSG_ID).message.external_ids == [MSG_ID]
    return harness


@pytest.mark.parametrize("case", STATUS, ids=[c.label for c in STATUS])
def test_delivered(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(sent(smsgate_harness), case)


def test_a_report_s_error_is_kept(smsgate_harness) -> None:
    harness = sent(smsgate_harness)
    run_inbound_case(harness, InboundCase("error", D, json={"results": [report(
        2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED", error={
            "groupId": 1, "groupName": "HANDSET_ERRORS", "id": 27, "name": "EC_ABSENT_SUBSCRIBER",
            "description": "Absent Subscriber", "permanent": False})]}, statuses={MSG_ID: "failed"}))
    last = harness.message(MSG_ID).history[-1]
    assert (last["error_code"], last["error_reason"]) == ("EC_ABSENT_SUBSCRIBER", "Absent Subscriber")
