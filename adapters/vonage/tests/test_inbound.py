"""Vonage's callbacks to the `vonage` adapter, as tables through smsgate's kit: incoming messages on
`receive`, delivery receipts on `status`, and signed callbacks when the channel has a signature secret.

Cases restate Vonage's inbound-SMS and delivery-receipt webhook references and courier's NX handler tests.
"""

from __future__ import annotations

import json
import urllib.parse

import httpx
import pytest
from smsgate.testing import InboundCase, run_inbound_case
from smsgate_vonage import sign

CHANNEL = {"adapter": "vonage", "address": "2020", "country": "US", "api_key": "k3y-vonage-0001",
           "api_secret": "s3cret-vonage-0002"}
R, S = "/c/nx/receive", "/c/nx/status"
MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
NUMBER = "+2349067554729"
MO = {"msisdn": "2349067554729", "to": "2020", "messageId": "0A0000001234", "text": "Join", "type": "text",
      "keyword": "JOIN", "message-timestamp": "2026-08-19 10:00:00"}


def msg(text: str = "Join", **extra: object) -> list[dict[str, object]]:
    return [{"from": NUMBER, "to": "2020", "text": text, **extra}]


RECEIVE = [
    InboundCase("GET, as Vonage calls by default", R + "?" + urllib.parse.urlencode(MO), method="GET",
                contains=["Message Accepted"],
                messages=msg(external_ids=["0A0000001234"], received_at="2026-08-19T10:00:00.000000+00:00")),
    InboundCase("POST form", R, data=MO, messages=msg(external_ids=["0A0000001234"])),
    InboundCase("POST JSON, Vonage's POST-JSON option (courier ignores it)", R, json=MO,
                messages=msg(external_ids=["0A0000001234"])),
    InboundCase("a local number takes the channel's country", R, data={**MO, "msisdn": "2065551234"},
                messages=[{"from": "+12065551234"}]),
    InboundCase("unicode", R, data={**MO, "text": "Habari ☺", "type": "unicode"}, messages=msg("Habari ☺")),
    InboundCase("empty text is a message", R, data={**MO, "text": ""}, messages=msg("")),
    InboundCase("a garbled timestamp: the time of receipt", R, data={**MO, "message-timestamp": "yesterday"},
                messages=msg()),
    InboundCase("each part of a concatenated SMS is a message (as courier)", R,
                data={**MO, "text": "part one ", "concat": "true", "concat-ref": "108", "concat-total": "2",
                      "concat-part": "1"}, messages=msg("part one ")),
    InboundCase("no parameters (Vonage checking a new URL): ignored", R, contains=["no to parameter, ignored"],
                messages=[]),
    InboundCase("no msisdn", R, data={"to": "2020", "text": "hi"}, status=400, contains=["field 'msisdn' required"],
                messages=[]),
    InboundCase("a sender id is not a possible number", R + "?to=2020&msisdn=MTN&text=Hi&messageId=x", method="GET",
                status=400, contains=["not a possible number"], messages=[]),
    InboundCase("PUT is not served", R, method="PUT", status=405),
]

STATUS = [
    InboundCase("delivered", S + "?messageId=0A01&status=delivered&err-code=0&msisdn=250788383383&to=2020",
                method="GET", contains=["Status Update Accepted"], statuses={MSG_ID: "delivered"}),
    InboundCase("accepted is sent", S, data={"messageId": "0A01", "status": "accepted"}, statuses={MSG_ID: "sent"}),
    InboundCase("buffered is sent", S, data={"messageId": "0A01", "status": "buffered"}, statuses={MSG_ID: "sent"}),
    InboundCase("expired is failed", S, data={"messageId": "0A01", "status": "expired", "err-code": "0"},
                statuses={MSG_ID: "failed"}),
    InboundCase("rejected is failed", S, data={"messageId": "0A01", "status": "rejected", "err-code": "6"},
                statuses={MSG_ID: "failed"}),
    InboundCase("JSON (courier ignores it)", S, json={"messageId": "0A01", "status": "delivered", "err-code": 0},
                statuses={MSG_ID: "delivered"}),
    InboundCase("unknown says nothing new: still wired", S, data={"messageId": "0A01", "status": "unknown"},
                contains=["Status Update Accepted"], statuses={MSG_ID: "wired"}),
    InboundCase("a status Vonage does not document: ignored", S, data={"messageId": "0A01", "status": "bogus"},
                contains=["Ignored"], statuses={MSG_ID: "wired"}),
    InboundCase("no messageId: ignored", S, data={"status": "delivered"}, contains=["no messageId parameter"],
                statuses={MSG_ID: "wired"}),
    InboundCase("an id smsgate never sent: stored, answered 200", S, data={"messageId": "nope", "status": "delivered"},
                contains=["Status Update Accepted"], statuses={MSG_ID: "wired"}),
]


@pytest.mark.parametrize("case", RECEIVE, ids=[c.label for c in RECEIVE])
def test_receive(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(smsgate_harness({"nx": CHANNEL}), case)


def sent(factory):
    harness = factory({"nx": CHANNEL}, respond=lambda request: httpx.Response(200, json={
        "message-count": "1", "messages": [{"status": "0", "message-id": "0A01"}]}))
    assert harness.send("nx", "+250788383383", "hi", id=MSG_ID).message.external_ids == ["0A01"]
    return harness


@pytest.mark.parametrize("case", STATUS, ids=[c.label for c in STATUS])
def test_status(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(sent(smsgate_harness), case)


def test_an_err_code_is_kept_with_vonage_s_meaning(smsgate_harness) -> None:
    harness = sent(smsgate_harness)
    run_inbound_case(harness, InboundCase("err-code", S, data={"messageId": "0A01", "status": "failed",
                                                               "err-code": "6"}, statuses={MSG_ID: "failed"}))
    report = harness.message(MSG_ID).history[-1]
    assert (report["error_code"], report["error_reason"]) == ("dlr:6", "Vonage err-code 6: Anti-Spam Rejection")


# -- signed callbacks ------------------------------------------------------------------------------------

SIGNING = "sigs3cret-0003"


def signed(fields: dict[str, str], method: str = "md5hash", secret: str = SIGNING) -> dict[str, str]:
    return {**fields, "timestamp": "1461605396", "sig": sign({**fields, "timestamp": "1461605396"}, secret, method)}


SIGNED = [
    InboundCase("md5hash, Vonage's default", R, data=signed(MO), messages=msg()),
    InboundCase("an upper-case sig", R, data={**signed(MO), "sig": signed(MO)["sig"].upper()}, messages=msg()),
    InboundCase("a value holding & and =", R, data=signed({**MO, "text": "a=b & c"}), messages=msg("a=b & c")),
    InboundCase("GET is signed the same way", R + "?" + urllib.parse.urlencode(signed(MO)), method="GET",
                messages=msg()),
    InboundCase("JSON is signed the same way", R, json=signed(MO), messages=msg()),
    InboundCase("a receipt", S, data=signed({"messageId": "0A01", "status": "delivered"}), statuses={}),
    InboundCase("no sig: refused", R, data=MO, status=403, contains=["missing request signature (sig)"],
                messages=[]),
    InboundCase("a sig for other parameters: refused", R, data={**signed(MO), "text": "changed"}, status=403,
                contains=["invalid request signature"], messages=[]),
    InboundCase("another secret's sig: refused", S, data=signed({"messageId": "0A01", "status": "delivered"},
                                                                secret="other"), status=403),
    InboundCase("another method's sig: refused", R, data=signed(MO, "sha256"), status=403, messages=[]),
]


@pytest.mark.parametrize("case", SIGNED, ids=[c.label for c in SIGNED])
def test_signed(smsgate_harness, case: InboundCase) -> None:
    run_inbound_case(smsgate_harness({"nx": {**CHANNEL, "signature_secret": SIGNING}}), case)


@pytest.mark.parametrize("method", ["md5", "sha1", "sha256", "sha512"])
def test_hmac_methods(smsgate_harness, method: str) -> None:
    harness = smsgate_harness({"nx": {**CHANNEL, "signature_secret": SIGNING, "signature_method": method}})
    run_inbound_case(harness, InboundCase(method, R, data=signed(MO, method), messages=msg()))
    run_inbound_case(harness, InboundCase(f"{method}, md5hash sig", R, data=signed(MO), status=403))


def test_vonage_s_own_example_signature() -> None:
    # the example of Vonage's SDK tests: a=1, b=2, timestamp=1461605396, secret "secret", md5hash
    assert sign({"a": "1", "b": "2", "timestamp": "1461605396"}, "secret", "md5hash") == \
        "6af838ef94998832dbfc29020b564830"


def test_the_signing_secret_is_masked_in_logs(smsgate_harness) -> None:
    harness = smsgate_harness({"nx": {**CHANNEL, "signature_secret": SIGNING}})
    run_inbound_case(harness, InboundCase("secret echoed", R, data={**MO, "text": SIGNING}, status=403))
    assert SIGNING not in json.dumps(harness.logs())
