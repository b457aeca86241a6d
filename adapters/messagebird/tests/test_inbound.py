"""Callbacks of the `messagebird` adapter (incoming messages and status reports), as tables through smsgate's kit.

MessageBird signs both (MessageBird-Signature-JWT over the URL it called, query included, and the body); a
`Signed` case is signed when it runs, so a token is never older than its test. The signature's own cases are at
the end of each table and in test_signature.py.
"""

from __future__ import annotations

import dataclasses
import sys
import urllib.parse
from pathlib import Path

import httpx
import pytest
from smsgate.testing import InboundCase, run_inbound_case

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mb_signing import KEY, sha256, token

CHANNEL = {"adapter": "messagebird", "address": "18005551212", "country": "US", "auth_token": "fake-mb-key-0",
           "secret": KEY}
R, S = "/c/mb/receive", "/c/mb/status"
PUBLIC = "https://gateway.example"
FORM = {"content-type": "application/x-www-form-urlencoded"}
MSG_ID = "019a0719-ac96-7eb9-a837-cac215164834"
EXT_ID = "b6aae1b5dfb2427a8f7ea6a717ba31a9"


@dataclasses.dataclass
class Signed(InboundCase):
    """A case signed as MessageBird signs it when it runs; `claims` override the token's (None drops one)."""

    sign: bool = True
    signed_path: str | None = None  # sign another URL than the one called
    claims: dict[str, object] = dataclasses.field(default_factory=dict)
    key: str = KEY

    def ready(self) -> InboundCase:
        """The plain case, with its signature header when it has one."""
        base = {f.name: getattr(self, f.name) for f in dataclasses.fields(InboundCase)}
        if self.sign:
            body = self.body.encode() if isinstance(self.body, str) else (self.body or b"")
            url = PUBLIC + (self.signed_path or self.path)
            base["headers"] = {**self.headers, "MessageBird-Signature-JWT": token(url, body, key=self.key,
                                                                                  **self.claims)}
        return InboundCase(**base)


def form(*pairs: tuple[str, str]) -> str:
    return urllib.parse.urlencode(pairs)


LONG = form(("message_id", "xyz"), ("id", EXT_ID), ("id", "3b53a137c6f54ae7b8ab8e2c1e7e2a1b"),
            ("recipient", "18005551515"), ("originator", "18885551515"), ("body", "Test again"), ("body", "Test 3"),
            ("CreatedDatetime", "2023-07-27T00:49:29+00:00"))
SHORT = form(("shortcode", "51515"), ("keyword", "Test"), ("message", "Test again"), ("mid", "mid-3b53"),
             ("receive_datetime", "20230727004929"), ("originator", "18885551515"), ("operator", "31612345678"))
MEDIA = form(("id", "m-1"), ("originator", "18885551515"), ("createdDatetime", "2023-07-27T00:49:29+00:00"),
             ("mediaURLs", "https://foo.bar/image.jpg"), ("mediaUrls", "https://foo.bar/image2.jpg"))
PLAIN = form(("id", "p-1"), ("originator", "18885551515"), ("body", "hi"),
             ("createdDatetime", "2023-07-27T00:49:29+00:00"))

RECEIVE = [
    Signed("a long-number message: the last of repeated values", R, body=LONG, headers=FORM, contains=["OK"],
           messages=[{"from": "+18885551515", "to": "18005551212", "text": "Test 3",
                      "external_ids": ["3b53a137c6f54ae7b8ab8e2c1e7e2a1b"],
                      "received_at": "2023-07-27T00:49:29.000000+00:00"}]),
    Signed("a short-code message", R, body=SHORT, headers=FORM,
           messages=[{"text": "Test again", "external_ids": ["mid-3b53"],
                      "received_at": "2023-07-27T00:49:29.000000+00:00"}]),
    Signed("media without text", R, body=MEDIA, headers=FORM,
           messages=[{"text": "", "attachments": ["https://foo.bar/image.jpg", "https://foo.bar/image2.jpg"]}]),
    Signed("any RFC 3339 offset", R, headers=FORM,
           body=form(("id", "z-1"), ("originator", "18885551515"), ("body", "hi"),
                     ("createdDatetime", "2023-07-27T02:49:29+02:00")),
           messages=[{"received_at": "2023-07-27T00:49:29.000000+00:00"}]),
    Signed("the query string is signed with the rest of the URL", R + "?via=proxy", body=PLAIN, headers=FORM,
           messages=[{"text": "hi"}]),
    Signed("signed over the path alone, as courier checks it", R + "?via=proxy", signed_path=R, body=PLAIN,
           headers=FORM, status=403, contains=["claim url_hash does not match"], messages=[]),
    Signed("no text and no media", R, headers=FORM, status=400, contains=["no text or media"], messages=[],
           body=form(("id", "e-1"), ("originator", "18885551515"), ("createdDatetime", "2023-07-27T00:49:29+00:00"))),
    Signed("a date that is not RFC 3339", R, headers=FORM, status=400, contains=["unable to parse date"], messages=[],
           body=form(("id", "d-1"), ("originator", "18885551515"), ("body", "hi"), ("createdDatetime", "yesterday"))),
    Signed("no originator", R, headers=FORM, status=400, contains=["field 'originator' required"], messages=[],
           body=form(("id", "o-1"), ("body", "hi"), ("createdDatetime", "2023-07-27T00:49:29+00:00"))),
    Signed("a sender id is not a possible number", R, headers=FORM, status=400, contains=["not a possible number"],
           messages=[], body=form(("id", "s-1"), ("originator", "MTN"), ("body", "hi"),
                                  ("createdDatetime", "2023-07-27T00:49:29+00:00"))),
    Signed("no signature", R, sign=False, body=PLAIN, headers=FORM, status=403,
           contains=["missing request signature"], messages=[]),
    Signed("signed with another key", R, key="bad-" + KEY, body=PLAIN, headers=FORM, status=403,
           contains=["Signature verification failed"], messages=[]),
    Signed("signed for another body", R, claims={"payload_hash": sha256(PLAIN + "bad")}, body=PLAIN, headers=FORM,
           status=403, contains=["claim payload_hash does not match the body"], messages=[]),
    Signed("signed for another URL", R, signed_path="/c/other/receive", body=PLAIN, headers=FORM, status=403,
           contains=["claim url_hash does not match"], messages=[]),
    Signed("expired", R, claims={"nbf": 1690306305, "exp": 1690306365}, body=PLAIN, headers=FORM, status=403,
           contains=["claim exp is in the past"], messages=[]),
    Signed("GET is not served", R, method="GET", status=405),
]

REPORT = [("datacoding", "plain"), ("id", EXT_ID), ("mccmnc", "310010"), ("messageLength", "4"),
          ("messagePartCount", "1"), ("ported", "0"), ("price[amount]", "0.000"), ("price[currency]", "USD"),
          ("recipient", "18885551515"), ("reference", MSG_ID), ("statusDatetime", "2023-07-28T17:57:12+00:00")]


def report(*extra: tuple[str, str], drop: tuple[str, ...] = ()) -> str:
    return f"{S}?{form(*[p for p in REPORT if p[0] not in drop], *extra)}"


STATUS = [
    Signed("sent, found by our reference", report(("status", "sent")), method="GET",
           contains=["Status Update Accepted"], statuses={MSG_ID: "sent"}),
    Signed("delivered", report(("status", "delivered")), method="GET", statuses={MSG_ID: "delivered"}),
    Signed("buffered is sent", report(("status", "buffered")), method="GET", statuses={MSG_ID: "sent"}),
    Signed("delivery_failed with 103: failed, and the recipient opted out", method="GET",
           path=report(("status", "delivery_failed"), ("statusReason", "unknown"), ("statusErrorCode", "103")),
           statuses={MSG_ID: "failed"}, opt_outs=["+18885551515"]),
    Signed("expired", report(("status", "expired")), method="GET", statuses={MSG_ID: "failed"}, opt_outs=[]),
    Signed("a reference that is not ours: found by MessageBird's id", method="GET",
           path=report(("reference", "abc"), ("status", "delivered"), drop=("reference",)),
           statuses={MSG_ID: "delivered"}),
    Signed("an unknown status", report(("status", "expiryttd")), method="GET", status=400,
           contains=["unknown status 'expiryttd', must be one of 'scheduled', 'sent', 'buffered', 'delivered', "
                     "'expired', 'delivery_failed'"], statuses={MSG_ID: "wired"}),
    Signed("an error code that is not a number", report(("statusErrorCode", "x"), ("status", "sent")), method="GET",
           contains=["no msg status, ignoring"], statuses={MSG_ID: "wired"}),
    Signed("an error code in other digits (found by the fuzzer)", report(("statusErrorCode", "\u00b2"),
                                                                        ("status", "sent")),
           method="GET", contains=["no msg status, ignoring"], statuses={MSG_ID: "wired"}),
    Signed("no signature", report(("status", "delivered")), method="GET", sign=False, status=403,
           statuses={MSG_ID: "wired"}),
    Signed("signed for other parameters", report(("status", "delivered")), method="GET",
           signed_path=report(("status", "sent")), status=403, contains=["claim url_hash does not match"],
           statuses={MSG_ID: "wired"}),
    Signed("POST is not served", S, status=405),
]


@pytest.mark.parametrize("case", RECEIVE, ids=[c.label for c in RECEIVE])
def test_receive(smsgate_harness, case: Signed) -> None:
    response = run_inbound_case(smsgate_harness({"mb": CHANNEL}), case.ready())
    if case.status == 200:
        assert (response.text, response.headers["content-type"]) == ("OK", "text/plain; charset=utf-8")


def sent(smsgate_harness):
    harness = smsgate_harness({"mb": CHANNEL}, respond=lambda request: httpx.Response(201, json={"id": EXT_ID}))
    assert harness.send("mb", "+18885551515", "hi", id=MSG_ID).message.external_ids == [EXT_ID]
    return harness


@pytest.mark.parametrize("case", STATUS, ids=[c.label for c in STATUS])
def test_status(smsgate_harness, case: Signed) -> None:
    run_inbound_case(sent(smsgate_harness), case.ready())


def test_a_failure_keeps_its_code_and_reason(smsgate_harness) -> None:
    harness = sent(smsgate_harness)
    path = report(("status", "delivery_failed"), ("statusReason", "unknown subscriber"), ("statusErrorCode", "7"))
    run_inbound_case(harness, Signed("7", path, method="GET", statuses={MSG_ID: "failed"}).ready())
    message = harness.message(MSG_ID)
    assert message is not None
    assert (message.error_code, message.error_reason) == ("7", "MessageBird error 7: unknown subscriber")


def test_without_a_signing_key_callbacks_are_refused(smsgate_harness) -> None:
    harness = smsgate_harness({"mb": {k: v for k, v in CHANNEL.items() if k != "secret"}})
    run_inbound_case(harness, Signed("no key", R, body=PLAIN, headers=FORM, status=403,
                                     contains=["the channel has no signing key"], messages=[]).ready())


def test_signatures_can_be_switched_off(smsgate_harness) -> None:
    harness = smsgate_harness({"mb": {**CHANNEL, "validate_signatures": False}})
    run_inbound_case(harness, Signed("unsigned", R, sign=False, body=PLAIN, headers=FORM,
                                     messages=[{"text": "hi"}]).ready())
