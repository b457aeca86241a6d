"""Incoming messages and status callbacks through the real ASGI app: courier-style tables.

Signatures are switched off here (test_signatures.py covers them) so each case exercises the parsing alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from smsgate.testing import Harness, InboundCase, run_inbound_case

sys.path.insert(0, str(Path(__file__).resolve().parent))

from twilio_testkit import BASE, MESSAGE_ID

TO = "+250788383383"
SM = "SMe287d7109a5a925f182f0e07fe5b223b"
ACCOUNT = "ACe91ae1004a7ff8fe9ebfcbc9a8d1d1c1"
RECEIVE = "/c/test/receive"
# courier's own sample: a carrier's base64 body whose last character is cut mid-UTF-8 sequence
B64_BODY = "QmFubm9uIEV4cGxhaW5zIFRoZSBXb3JsZCAuLi4K4oCcVGhlIENhbXAgb2YgdGhlIFNhaW50c+KA"


def mo(**fields: Any) -> dict[str, Any]:
    """A Twilio incoming-message webhook form, as Twilio posts it."""
    base = {"ToCountry": "US", "ToState": "", "SmsMessageSid": SM, "NumMedia": "0", "FromZip": "01022",
            "SmsSid": SM, "FromState": "MA", "SmsStatus": "received", "FromCity": "CHICOPEE", "Body": "Msg",
            "FromCountry": "US", "To": "+12028831111", "NumSegments": "1", "MessageSid": SM, "AccountSid": ACCOUNT,
            "From": "+14133881111", "ApiVersion": "2010-04-01"}
    return {k: v for k, v in {**base, **fields}.items() if v is not None}


RECEIVE_CASES = [
    InboundCase("plain message", RECEIVE, data=mo(), contains=['<?xml version="1.0" encoding="UTF-8"?><Response/>'],
                messages=[{"from": "+14133881111", "to": "+12028831111", "text": "Msg", "external_ids": [SM],
                           "attachments": []}]),
    InboundCase("media urls become attachments in order", RECEIVE,
                data=mo(Body="", NumMedia="2", MediaUrl0="https://api.twilio.com/m/ME1",
                        MediaContentType0="image/jpeg", MediaUrl1="https://api.twilio.com/m/ME2"),
                messages=[{"text": "", "attachments": ["https://api.twilio.com/m/ME1", "https://api.twilio.com/m/ME2"]}]),
    InboundCase("NumMedia larger than the urls given", RECEIVE, data=mo(NumMedia="3", MediaUrl0="https://x/1"),
                messages=[{"attachments": ["https://x/1"]}]),
    InboundCase("no NumMedia: media ignored", RECEIVE, data=mo(NumMedia=None, MediaUrl0="https://x/1"),
                messages=[{"attachments": []}]),
    InboundCase("NumMedia not a number", RECEIVE, data=mo(NumMedia="two"), status=400,
                contains=["field 'NumMedia' must be a number"], messages=[]),
    InboundCase("base64 body decoded (courier heuristic)", RECEIVE, data=mo(Body=B64_BODY),
                messages=[{"text": "Bannon Explains The World ...\n“The Camp of the Saints"}]),
    InboundCase("short base64-looking body kept", RECEIVE, data=mo(Body="SGVsbG8="), messages=[{"text": "SGVsbG8="}]),
    InboundCase("base64 of NUL bytes kept as typed", RECEIVE, data=mo(Body="A" * 64), messages=[{"text": "A" * 64}]),
    InboundCase("long plain text kept", RECEIVE,
                data=mo(Body="This is a long message with spaces that is certainly more than sixty chars"),
                messages=[{"text": "This is a long message with spaces that is certainly more than sixty chars"}]),
    InboundCase("missing required fields are named", RECEIVE, data=mo(MessageSid=None, To=None), status=400,
                contains=["field 'MessageSid' required", "field 'To' required"], messages=[]),
    InboundCase("missing AccountSid", RECEIVE, data=mo(AccountSid=None), status=400,
                contains=["field 'AccountSid' required"], messages=[]),
    InboundCase("FromCountry parses a national number", RECEIVE, data=mo(From="0788383383", FromCountry="RW"),
                messages=[{"from": "+250788383383"}]),
    InboundCase("alphanumeric sender id accepted", RECEIVE, data=mo(From="MTN"), messages=[{"from": "mtn"}]),
    InboundCase("impossible sender", RECEIVE, data=mo(From="+1"), status=400, contains=["not a possible number"],
                messages=[]),
    InboundCase("JSON body accepted", RECEIVE, json=mo(Body="json hi"), messages=[{"text": "json hi"}]),
    InboundCase("GET is not a Twilio webhook here", RECEIVE, method="GET", params=mo(), status=405, messages=[]),
]


@pytest.mark.parametrize("case", RECEIVE_CASES, ids=lambda c: c.label)
def test_receive(smsgate_harness, case: InboundCase) -> None:
    harness = smsgate_harness({"test": {"adapter": "twilio", **BASE, "validate_signatures": False}})
    response = run_inbound_case(harness, case)
    if case.status == 200:
        assert response.headers["content-type"].startswith("text/xml")


def test_receive_retry_is_stored_once(smsgate_harness) -> None:
    harness = smsgate_harness({"test": {"adapter": "twilio", **BASE, "validate_signatures": False}})
    run_inbound_case(harness, InboundCase("first", RECEIVE, data=mo(), messages=[{"external_ids": [SM]}]))
    run_inbound_case(harness, InboundCase("retry", RECEIVE, data=mo(), messages=[]))
    assert len(harness.messages(direction="in")) == 1


# -- status callbacks --------------------------------------------------------------------------------------


def status_form(status: str | None, sid: str | None = "SM123", **extra: Any) -> dict[str, Any]:
    """A Twilio status callback form."""
    form = {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status, "AccountSid": ACCOUNT,
            "From": "+12065551212", "To": TO, "ApiVersion": "2010-04-01", **extra}
    return {k: v for k, v in form.items() if v is not None}


OURS = f"/c/test/status?id={MESSAGE_ID}"
BARE = "/c/test/status"


def wired_harness(factory: Any, **settings: Any) -> Harness:
    """A harness whose channel `test` has wired MESSAGE_ID with Twilio sid SM123."""
    harness = factory({"test": {"adapter": "twilio", **BASE, "validate_signatures": False, **settings}},
                      respond=lambda r: httpx.Response(201, json={"sid": "SM123", "status": "queued"}))
    assert harness.send("test", TO, "hello", id=MESSAGE_ID).message.status == "wired"
    return harness


STATUS_CASES: list[tuple[dict[str, Any], InboundCase, str | None]] = [
    ({}, InboundCase("queued → sent", OURS, data=status_form("queued"), contains=['"status":"sent"'],
                     statuses={MESSAGE_ID: "sent"}), None),
    ({}, InboundCase("sent → sent", OURS, data=status_form("sent"), statuses={MESSAGE_ID: "sent"}), None),
    ({}, InboundCase("delivered", OURS, data=status_form("delivered"), contains=["Status Update Accepted"],
                     statuses={MESSAGE_ID: "delivered"}), None),
    ({}, InboundCase("read", OURS, data=status_form("read"), statuses={MESSAGE_ID: "read"}), None),
    ({}, InboundCase("failed with 30003", OURS, data=status_form("failed", ErrorCode="30003"),
                     statuses={MESSAGE_ID: "failed"}, opt_outs=[]), "30003"),
    ({}, InboundCase("undelivered → failed", OURS, data=status_form("undelivered", ErrorCode="30005"),
                     statuses={MESSAGE_ID: "failed"}), "30005"),
    ({}, InboundCase("ErrorCode 0 is no error", OURS, data=status_form("delivered", ErrorCode="0"),
                     statuses={MESSAGE_ID: "delivered"}), None),
    ({}, InboundCase("21610: failed + opt-out of To", OURS, data=status_form("undelivered", ErrorCode="21610"),
                     contains=["stop_contact"], statuses={MESSAGE_ID: "failed"}, opt_outs=[TO]), "21610"),
    ({}, InboundCase("63018 keeps the failure (not errored)", OURS, data=status_form("failed", ErrorCode="63018"),
                     statuses={MESSAGE_ID: "failed"}), "63018"),
    ({}, InboundCase("no id: found by MessageSid", BARE, data=status_form("delivered"),
                     contains=['"known_message":true'], statuses={MESSAGE_ID: "delivered"}), None),
    ({}, InboundCase("id not a UUID: found by MessageSid", "/c/test/status?id=asdf", data=status_form("delivered"),
                     statuses={MESSAGE_ID: "delivered"}), None),
    ({}, InboundCase("unknown UUID: found by MessageSid", "/c/test/status?id=00000000-0000-4000-8000-000000000000",
                     data=status_form("delivered"), statuses={MESSAGE_ID: "delivered"}), None),
    ({}, InboundCase("our id wins over another sid", OURS, data=status_form("delivered", sid="SMother"),
                     statuses={MESSAGE_ID: "delivered"}), None),
    ({}, InboundCase("unknown message: accepted, nothing moves", BARE, data=status_form("delivered", sid="SMnope"),
                     contains=['"known_message":false'], statuses={MESSAGE_ID: "wired"}), None),
    ({}, InboundCase("unknown status: 400 listing valid ones", OURS, data=status_form("huh"), status=400,
                     contains=["unknown status 'huh'", "'queued', 'sent', 'delivered', 'read', 'failed', "
                                                       "'undelivered'"], statuses={MESSAGE_ID: "wired"}), None),
    ({}, InboundCase("Twilio's intermediate status: ignored", OURS, data=status_form("sending"),
                     contains=["Ignored", "sending"], statuses={MESSAGE_ID: "wired"}), None),
    ({}, InboundCase("missing MessageStatus: 200 ignored", OURS, data=status_form(None), contains=["Ignored"],
                     statuses={MESSAGE_ID: "wired"}), None),
    ({}, InboundCase("missing MessageSid: 200 ignored", OURS, data=status_form("delivered", sid=None),
                     contains=["no MessageSid or MessageStatus"], statuses={MESSAGE_ID: "wired"}), None),
    ({"ignore_dlrs": True}, InboundCase("ignore_dlrs drops delivered", OURS, data=status_form("delivered"),
                                        contains=["ignoring non error delivery report"],
                                        statuses={MESSAGE_ID: "wired"}), None),
    ({"ignore_dlrs": True}, InboundCase("ignore_dlrs keeps failures", OURS, data=status_form("failed",
                                                                                           ErrorCode="30007"),
                                        statuses={MESSAGE_ID: "failed"}), "30007"),
]


@pytest.mark.parametrize(("settings_", "case", "error_code"), STATUS_CASES, ids=[c[1].label for c in STATUS_CASES])
def test_status(smsgate_harness, settings_: dict[str, Any], case: InboundCase, error_code: str | None) -> None:
    harness = wired_harness(smsgate_harness, **settings_)
    run_inbound_case(harness, case)
    stored = harness.message(MESSAGE_ID)
    assert stored is not None
    assert stored.error_code == error_code
    if error_code:
        assert stored.error_reason and error_code in stored.error_reason


def test_status_error_code_is_in_history_and_reply_is_json(smsgate_harness) -> None:
    harness = wired_harness(smsgate_harness)
    response = harness.request("POST", OURS, data=status_form("undelivered", ErrorCode="30006"))
    assert response.headers["content-type"] == "application/json"
    history = harness.message(MESSAGE_ID).history  # type: ignore[union-attr]
    assert history[-1]["status"] == "failed" and history[-1]["error_code"] == "30006"
    assert history[-1]["external_id"] == "SM123"


# -- fuzz: no input makes a handler crash ------------------------------------------------------------------

FIELD_NAMES = st.sampled_from(["MessageSid", "AccountSid", "From", "To", "Body", "NumMedia", "MediaUrl0",
                               "FromCountry", "ToCountry", "MessageStatus", "ErrorCode", "id", "x"])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=st.dictionaries(FIELD_NAMES, st.text(max_size=80)), action=st.sampled_from(["receive", "status"]),
       query=st.text(max_size=40))
def test_fuzzed_webhooks_never_crash(smsgate_harness, form: dict[str, str], action: str, query: str) -> None:
    harness = getattr(test_fuzzed_webhooks_never_crash, "harness", None)
    if harness is None or harness.loop.is_closed():
        harness = smsgate_harness({"test": {"adapter": "twilio", **BASE, "validate_signatures": False}})
        test_fuzzed_webhooks_never_crash.harness = harness  # type: ignore[attr-defined]
    response = harness.request("POST", f"/c/test/{action}", data=form, params={"id": query})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert json.loads(response.text)["data"][0]["error"]
