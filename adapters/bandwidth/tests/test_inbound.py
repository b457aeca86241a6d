"""Callbacks of the `bandwidth` adapter (incoming messages and message events), as tables through smsgate's kit.

Bandwidth posts a JSON array of events to the application's callback URLs; the bodies follow its documented
examples and courier's handler tests.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import httpx
import pytest
from smsgate.testing import InboundCase, run_inbound_case

CHANNEL = {"adapter": "bandwidth", "address": "2020", "country": "US", "username": "user1", "password": "pass1",
           "account_id": "accound-id", "messaging_application_id": "application-id"}
R, S = "/c/ch/receive", "/c/ch/status"
MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
OTHER_ID = "20b57fb1-9f5d-4c3c-8ff2-c9f2c3d9c8e2"
EXT = "14762070468292kw2fuqty55yp2b2"
JSON = {"content-type": "application/json; charset=utf-8"}

MO = {"type": "message-received", "time": "2016-09-14T18:20:16Z", "description": "Incoming message received",
      "to": "+12345678902",
      "message": {"id": EXT, "time": "2016-09-14T18:20:16Z", "to": ["+12345678902"], "from": "+12065551234",
                  "text": "hello world", "applicationId": "93de", "owner": "+12345678902", "direction": "in",
                  "segmentCount": 1, "media": ["https://messaging.bandwidth.com/api/v2/users/a/media/x/0/bw.png"]}}


def mo(**message: Any) -> list[dict[str, Any]]:
    event = copy.deepcopy(MO)
    event["message"].update(message)
    return [event]


def event(kind: str, ext: str = "ext-1", tag: str | None = None, **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"id": ext, "time": "2016-09-14T18:20:16Z", "to": ["+250788383383"],
                               "from": "2020", "text": "", "owner": "2020", "direction": "out", "segmentCount": 1}
    if tag is not None:
        message["tag"] = tag
    return {"type": kind, "time": "2016-09-14T18:20:17Z", "description": "", "to": "+250788383383",
            "message": message, **extra}


def post(path: str, payload: Any, **kwargs: Any) -> dict[str, Any]:
    return {"path": path, "body": json.dumps(payload), "headers": JSON, **kwargs}


RECEIVE = [
    InboundCase("documented MO", **post(R, mo()), contains=["Message Accepted"],
                messages=[{"from": "+12065551234", "to": "+12345678902", "text": "hello world",
                           "external_ids": [EXT],
                           "attachments": ["https://messaging.bandwidth.com/api/v2/users/a/media/x/0/bw.png"],
                           "received_at": "2016-09-14T18:20:16.000000+00:00"}]),
    InboundCase("a fraction of a second in the time", **post(R, mo(time="2016-09-14T18:20:16.000Z")),
                messages=[{"received_at": "2016-09-14T18:20:16.000000+00:00"}]),
    InboundCase("empty text, no media", **post(R, mo(text="", media=[])), messages=[{"text": "", "attachments": []}]),
    InboundCase("unicode text", **post(R, mo(text="Habari ☺ 👋")), messages=[{"text": "Habari ☺ 👋"}]),
    InboundCase("a local number takes the channel's country", **post(R, mo(**{"from": "2065551234"})),
                messages=[{"from": "+12065551234"}]),
    InboundCase("empty array: ignored", **post(R, []), contains=["Ignored"], messages=[]),
    InboundCase("two MOs in one array: both", **post(R, [*mo(id="a1", text="one"), *mo(id="a2", text="two")]),
                messages=[{"text": "one"}, {"text": "two"}]),
    InboundCase("a sender id is not a possible number", **post(R, mo(**{"from": "MTN"})), status=400,
                contains=["not a possible number"], messages=[]),
    InboundCase("a time with a space", **post(R, mo(time="2016-09-14 18:20:16")), status=400,
                contains=["invalid date format"], messages=[]),
    InboundCase("a time with an offset", **post(R, mo(time="2016-09-14T18:20:16-03:00")), status=400,
                contains=["invalid date format"], messages=[]),
    InboundCase("an object, not an array", **post(R, MO), status=400, contains=["JSON array"], messages=[]),
    InboundCase("not JSON", R, body="not json", headers=JSON, status=400, contains=["not valid JSON"], messages=[]),
    InboundCase("no message id", **post(R, mo(id="")), status=400, contains=["field 'message.id' required"],
                messages=[]),
    InboundCase("no type", **post(R, [{"message": {"id": "x"}}]), status=400, contains=["field 'type' required"],
                messages=[]),
    InboundCase("not an event", **post(R, ["x"]), status=400, contains=["event 0"], messages=[]),
    InboundCase("no sender", **post(R, mo(**{"from": None})), status=400, contains=["field 'message.from' required"],
                messages=[]),
    InboundCase("an unknown event type: ignored, not stored as a message", **post(R, [event("message-bla")]),
                contains=["Ignored"], messages=[]),
    InboundCase("GET is not served", R, method="GET", status=405),
]

STATUS = [
    InboundCase("sending", **post(S, [event("message-sending")]), contains=["Status Update Accepted"],
                statuses={MSG_ID: "sent"}),
    InboundCase("delivered", **post(S, [event("message-delivered")]), statuses={MSG_ID: "delivered"}),
    InboundCase("failed with an error code", **post(S, [event("message-failed", errorCode=4432,
                                                              description="forbidden to country")]),
                statuses={MSG_ID: "failed"}, opt_outs=[]),
    InboundCase("matched by our tag when the id is unknown", **post(S, [event("message-delivered", ext="zzz",
                                                                              tag=MSG_ID)]),
                statuses={MSG_ID: "delivered"}),
    InboundCase("every event of the array (courier: the first only)",
                **post(S, [event("message-sending"), event("message-delivered", ext="other-ext")]),
                statuses={MSG_ID: "sent", OTHER_ID: "delivered"}),
    InboundCase("opted out (4775): failed, and the recipient is stopped",
                **post(S, [event("message-failed", errorCode=4775,
                                 description="destination-rejected-due-to-user-opt-out")]),
                statuses={MSG_ID: "failed"}, opt_outs=["+250788383383"]),
    InboundCase("an unknown event type: 200 and ignored (courier: 400, retried for a day)",
                **post(S, [event("message-bla")]), contains=["Ignored"], statuses={MSG_ID: "wired"}),
    InboundCase("an unknown id is still stored and answered 200", **post(S, [event("message-delivered", ext="nope")]),
                statuses={MSG_ID: "wired"}),
    InboundCase("an incoming message on the status URL is read as one", **post(S, mo()), messages=[{"text":
                                                                                               "hello world"}]),
    InboundCase("empty array: ignored", **post(S, []), contains=["Ignored"], statuses={MSG_ID: "wired"}),
    InboundCase("no message id", **post(S, [{"type": "message-delivered", "message": {}}]), status=400,
                contains=["field 'message.id' required"], statuses={MSG_ID: "wired"}),
    InboundCase("not JSON", S, body="[", headers=JSON, status=400, statuses={MSG_ID: "wired"}),
]


def harness_with_sent(smsgate_harness, **keys: Any):
    """A channel `ch` with two wired messages: MSG_ID (external id ext-1) and OTHER_ID (other-ext)."""
    answers = iter(["ext-1", "other-ext"])
    harness = smsgate_harness({"ch": {**CHANNEL, **keys}},
                              respond=lambda request: httpx.Response(202, json={"id": next(answers)}))
    assert harness.send("ch", "+250788383383", "hi", id=MSG_ID).message.external_ids == ["ext-1"]
    assert harness.send("ch", "+250788383383", "hi", id=OTHER_ID).message.external_ids == ["other-ext"]
    return harness


@pytest.mark.parametrize("case", RECEIVE, ids=[c.label for c in RECEIVE])
def test_receive(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(smsgate_harness({"ch": CHANNEL}), case)


@pytest.mark.parametrize("case", STATUS, ids=[c.label for c in STATUS])
def test_status(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(harness_with_sent(smsgate_harness), case)


def test_a_failure_keeps_bandwidths_code_and_description(smsgate_harness) -> None:
    harness = harness_with_sent(smsgate_harness)
    run_inbound_case(harness, InboundCase("4432", **post(S, [event("message-failed", errorCode=4432,
                                                                   description="forbidden to country")])))
    record = harness.message(MSG_ID)
    assert record is not None and (record.error_code, record.error_reason) == ("4432", "forbidden to country")
    run_inbound_case(harness, InboundCase("no description", **post(S, [event("message-failed", ext="other-ext",
                                                                             errorCode=4720)])))
    other = harness.message(OTHER_ID)
    assert other is not None and other.error_reason == "invalid destination address"


def test_the_same_event_twice_is_one_history_row(smsgate_harness) -> None:
    harness = harness_with_sent(smsgate_harness)
    for _ in range(2):
        run_inbound_case(harness, InboundCase("again", **post(S, [event("message-delivered")])))
    record = harness.message(MSG_ID)
    assert record is not None and [h["status"] for h in record.history].count("delivered") == 1


CREDS = {"callback_username": "bw-callbacks", "callback_password": "cb-secret-0123"}


def basic(user: str, password: str) -> dict[str, str]:
    return {**JSON, "authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


AUTH = [
    InboundCase("right credentials", S, body=json.dumps([event("message-delivered")]),
                headers=basic("bw-callbacks", "cb-secret-0123"), statuses={MSG_ID: "delivered"}),
    InboundCase("no credentials", S, body=json.dumps([event("message-delivered")]), headers=JSON, status=401,
                contains=["authentication required"], statuses={MSG_ID: "wired"}),
    InboundCase("wrong password", S, body=json.dumps([event("message-delivered")]),
                headers=basic("bw-callbacks", "cb-secret-0124"), status=401, contains=["invalid callback credentials"],
                statuses={MSG_ID: "wired"}),
    InboundCase("wrong user, on receive", R, body=json.dumps(mo()), headers=basic("other", "cb-secret-0123"),
                status=401, messages=[]),
    InboundCase("the API credentials are not the callback ones", R, body=json.dumps(mo()),
                headers=basic("user1", "pass1"), status=401, messages=[]),
]


@pytest.mark.parametrize("case", AUTH, ids=[c.label for c in AUTH])
def test_callback_credentials(smsgate_harness, case: InboundCase) -> None:
    harness = harness_with_sent(smsgate_harness, **CREDS)
    run_inbound_case(harness, case)
    logs = json.dumps(harness.logs(limit=1000))
    assert "cb-secret-0123" not in logs and base64.b64encode(b"bw-callbacks:cb-secret-0123").decode() not in logs
