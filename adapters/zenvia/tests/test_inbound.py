"""Webhooks of the `zenvia` adapter (incoming messages and message statuses), as tables through smsgate's kit.

Zenvia posts one JSON event per request; the bodies follow its documented events and courier's handler tests
(SMS channel, country BR, address `2020`).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from smsgate.testing import InboundCase, run_inbound_case

CHANNEL = {"adapter": "zenvia", "address": "2020", "country": "BR", "api_key": "zv-api-token"}
R, S = "/c/ch/receive", "/c/ch/status"
MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
OTHER_ID = "20b57fb1-9f5d-4c3c-8ff2-c9f2c3d9c8e2"
JSON = {"content-type": "application/json"}

MO: dict[str, Any] = {
    "id": "ev-1", "timestamp": "2017-05-03T03:04:45Z", "type": "MESSAGE", "subscriptionId": "sub-1",
    "channel": "sms", "direction": "IN",
    "message": {"id": "zv-mo-1", "from": "254791541111", "to": "2020", "direction": "IN", "channel": "sms",
                "contents": [{"type": "text", "text": "Msg"}], "visitor": {"name": "Bob"}}}


def mo(top: dict[str, Any] | None = None, **message: Any) -> dict[str, Any]:
    event = copy.deepcopy(MO)
    event.update(top or {})
    event["message"].update(message)
    return event


def status(code: str, zenvia_id: str | None = "hs765939216", external: str | None = None,
           **state: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"id": zenvia_id, "contentIndex": 0, "direction": "OUT", "from": "2020",
                               "to": "250788383383"}
    if external is not None:
        message["externalId"] = external
    event: dict[str, Any] = {"id": "ev-2", "timestamp": "2021-03-12T12:15:32Z", "type": "MESSAGE_STATUS",
                             "subscriptionId": "sub-2", "channel": "sms", "contentIndex": 0, "message": message,
                             "messageStatus": {"timestamp": "2021-03-12T12:15:31Z", "code": code,
                                               "description": f"status {code}", **state}}
    if zenvia_id is not None:
        event["messageId"] = zenvia_id
    return event


def post(path: str, payload: Any, **kwargs: Any) -> dict[str, Any]:
    return {"path": path, "body": json.dumps(payload), "headers": JSON, **kwargs}


RECEIVE = [
    InboundCase("documented MO (courier: a whatsapp: URN)", **post(R, MO), contains=["Message Accepted"],
                messages=[{"from": "+254791541111", "to": "2020", "text": "Msg", "external_ids": ["zv-mo-1"],
                           "received_at": "2017-05-03T03:04:45.000000+00:00"}]),
    InboundCase("a file: its URL attached", **post(R, mo(contents=[{"type": "file",
                                                                   "fileUrl": "https://foo.bar/v1/media/41"}])),
                messages=[{"text": "", "attachments": ["https://foo.bar/v1/media/41"]}]),
    InboundCase("a location: geo attachment", **post(R, mo(contents=[{"type": "location", "latitude": 0,
                                                                      "longitude": 1}])),
                messages=[{"text": "", "attachments": ["geo:0.000000,1.000000"]}]),
    InboundCase("two text contents: one message (courier: two)",
                **post(R, mo(contents=[{"type": "text", "text": "one"}, {"type": "text", "text": "two"}])),
                messages=[{"text": "one\ntwo", "external_ids": ["zv-mo-1"]}]),
    InboundCase("an unknown content type is skipped", **post(R, mo(contents=[{"type": "sticker"},
                                                                             {"type": "text", "text": "hi"}])),
                messages=[{"text": "hi"}]),
    InboundCase("unicode text", **post(R, mo(contents=[{"type": "text", "text": "Olá ☺ 👋"}])),
                messages=[{"text": "Olá ☺ 👋"}]),
    InboundCase("type in lower case", **post(R, mo({"type": "message"})), messages=[{"text": "Msg"}]),
    InboundCase("a fraction of a second", **post(R, mo({"timestamp": "2017-05-03T03:04:45.123Z"})),
                messages=[{"received_at": "2017-05-03T03:04:45.123000+00:00"}]),
    InboundCase("a local number takes the channel's country", **post(R, mo(**{"from": "11999999999"})),
                messages=[{"from": "+5511999999999"}]),
    InboundCase("not JSON", R, body="empty", headers=JSON, status=400, contains=["not valid JSON"], messages=[]),
    InboundCase("an empty object", **post(R, {}), status=400, contains=["doesn't match required schema"],
                messages=[]),
    InboundCase("no message id", **post(R, mo(id="")), status=400, contains=["field 'message.id' required"],
                messages=[]),
    InboundCase("no contents", **post(R, mo(contents=[])), status=400, contains=["field 'message.contents' required"],
                messages=[]),
    InboundCase("a timestamp with an offset", **post(R, mo({"timestamp": "2014-08-26T12:55:48.593-03:00"})),
                status=400, contains=["invalid date format"], messages=[]),
    InboundCase("a status event on receive", **post(R, mo({"type": "MESSAGE_STATUS"})), status=400,
                contains=["unsupported event type: MESSAGE_STATUS"], messages=[]),
    InboundCase("an outgoing message is ignored", **post(R, mo(direction="OUT")), contains=["Ignored"], messages=[]),
    InboundCase("a sender id is not a possible number", **post(R, mo(**{"from": "MTN"})), status=400,
                contains=["not a possible number"], messages=[]),
    InboundCase("GET is not served", R, method="GET", status=405),
]

STATUS = [
    InboundCase("sent", **post(S, status("SENT")), contains=["Status Update Accepted"], statuses={MSG_ID: "sent"}),
    InboundCase("delivered", **post(S, status("DELIVERED")), statuses={MSG_ID: "delivered"}),
    InboundCase("read", **post(S, status("READ")), statuses={MSG_ID: "read"}),
    InboundCase("not delivered", **post(S, status("NOT_DELIVERED")), statuses={MSG_ID: "failed"}),
    InboundCase("rejected", **post(S, status("REJECTED")), statuses={MSG_ID: "failed"}),
    InboundCase("a code in lower case", **post(S, status("delivered")), statuses={MSG_ID: "delivered"}),
    InboundCase("an unknown code: errored, which changes nothing after wired", **post(S, status("FOO")),
                contains=["Status Update Accepted"], statuses={MSG_ID: "wired"}),
    InboundCase("matched by our externalId when Zenvia's id is unknown",
                **post(S, status("DELIVERED", zenvia_id="zzz", external=OTHER_ID)), statuses={OTHER_ID: "delivered"}),
    InboundCase("message.id when the deprecated messageId is absent",
                **post(S, {k: v for k, v in status("DELIVERED").items() if k != "messageId"}),
                statuses={MSG_ID: "delivered"}),
    InboundCase("an unknown id is still stored and answered 200", **post(S, status("DELIVERED", zenvia_id="nope")),
                statuses={MSG_ID: "wired"}),
    InboundCase("not JSON", S, body="empty", headers=JSON, status=400, statuses={MSG_ID: "wired"}),
    InboundCase("an empty object", **post(S, {}), status=400, contains=["doesn't match required schema"]),
    InboundCase("an incoming message on status", **post(S, MO), status=400, contains=["unsupported event type"],
                messages=[]),
    InboundCase("no message id at all", **post(S, status("DELIVERED", zenvia_id=None)), status=400,
                contains=["field 'messageId' required"], statuses={MSG_ID: "wired"}),
    InboundCase("no status code", **post(S, status("")), status=400, contains=["field 'messageStatus.code' required"]),
]


def harness_with_sent(smsgate_harness, **keys: Any):
    """A channel `ch` with two wired messages: MSG_ID (Zenvia id hs765939216) and OTHER_ID (zv-other)."""
    answers = iter(["hs765939216", "zv-other"])
    harness = smsgate_harness({"ch": {**CHANNEL, **keys}},
                              respond=lambda request: httpx.Response(200, json={"id": next(answers)}))
    assert harness.send("ch", "+250788383383", "hi", id=MSG_ID).message.external_ids == ["hs765939216"]
    assert harness.send("ch", "+250788383383", "hi", id=OTHER_ID).message.external_ids == ["zv-other"]
    return harness


@pytest.mark.parametrize("case", RECEIVE, ids=[c.label for c in RECEIVE])
def test_receive(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(smsgate_harness({"ch": CHANNEL}), case)


@pytest.mark.parametrize("case", STATUS, ids=[c.label for c in STATUS])
def test_status(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(harness_with_sent(smsgate_harness), case)


def test_a_failure_keeps_zenvias_causes(smsgate_harness) -> None:
    harness = harness_with_sent(smsgate_harness)
    causes = [{"channelErrorCode": "E123", "reason": "Blocked", "details": "number on a block list"}]
    run_inbound_case(harness, InboundCase("causes", **post(S, status("NOT_DELIVERED", causes=causes))))
    record = harness.message(MSG_ID)
    assert record is not None and record.error_code == "E123"
    assert record.error_reason == "status NOT_DELIVERED; Blocked number on a block list"


def test_a_redelivered_mo_is_stored_once(smsgate_harness) -> None:
    harness = smsgate_harness({"ch": CHANNEL})
    for _ in range(2):
        run_inbound_case(harness, InboundCase("again", **post(R, MO)))
    assert len(harness.messages(direction="in")) == 1


SECRET = "zv-webhook-secret-42"
AUTH = [
    InboundCase("right secret", S, body=json.dumps(status("DELIVERED")),
                headers={**JSON, "X-Smsgate-Secret": SECRET}, statuses={MSG_ID: "delivered"}),
    InboundCase("no secret", S, body=json.dumps(status("DELIVERED")), headers=JSON, status=401,
                contains=["authentication required"], statuses={MSG_ID: "wired"}),
    InboundCase("wrong secret", R, body=json.dumps(MO), headers={**JSON, "X-Smsgate-Secret": SECRET + "x"},
                status=401, contains=["invalid X-Smsgate-Secret"], messages=[]),
    InboundCase("the API token is not the secret", R, body=json.dumps(MO),
                headers={**JSON, "X-Smsgate-Secret": "zv-api-token"}, status=401, messages=[]),
]


@pytest.mark.parametrize("case", AUTH, ids=[c.label for c in AUTH])
def test_webhook_secret(smsgate_harness, case: InboundCase) -> None:
    harness = harness_with_sent(smsgate_harness, webhook_secret=SECRET)
    run_inbound_case(harness, case)
    logs = json.dumps(harness.logs(limit=1000))
    assert SECRET not in logs and "zv-api-token" not in logs
