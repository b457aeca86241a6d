"""Callbacks of the `jasmin` adapter (MOs from an HTTP client connector, receipts from the DLR thrower), as tables
through smsgate's kit.

The bodies are what a real Jasmin 0.11.0 was seen to send (raw `short_message` bytes percent-encoded in
`content`, their hex in `binary`, `coding` as ONE raw byte) and courier's handler tests (decimal `coding`,
`From`/`To` in another case). Both routes answer exactly `ACK/Jasmin`, or Jasmin throws the request again.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import httpx
import pytest
from smsgate.testing import InboundCase, run_inbound_case

CHANNEL = {"adapter": "jasmin", "address": "2020", "country": "US", "send_url": "http://127.0.0.1:1401/send",
           "username": "Username", "password": "Password-1"}
R, S = "/c/ch/receive", "/c/ch/status"
MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
OTHER_ID = "20b57fb1-9f5d-4c3c-8ff2-c9f2c3d9c8e2"
JASMIN_ID = "c2057d6d-472d-4bbb-a403-88468f244699"
FORM = {"content-type": "application/x-www-form-urlencoded", "user-agent": "Jasmin gateway/1.0 deliverSmHttpThrower"}
GSM = bytes.fromhex("0576056e656d656e742000201b28781b29")  # "événement @ {x}" in unpacked GSM 03.38 septets
UCS2 = "Привет 👋".encode("utf-16-be")


def mo(content: bytes, coding: bytes, binary: bool = True, **fields: str) -> str:
    """An MO body as Jasmin's deliverSmHttpThrower writes it (bytes percent-encoded, `binary` their hex)."""
    values = {"id": "47915af7-12a2-4816-858a-6d9fb8fc693e", "from": "250788383383", "to": "2020",
              "origin-connector": "upstream", **fields}
    body = urllib.parse.urlencode(values) + "&content=" + urllib.parse.quote_plus(content)
    if binary:
        body += "&binary=" + content.hex()
    return body + "&priority=0&coding=" + urllib.parse.quote_plus(coding)


def stored(text: str, **extra: Any) -> dict[str, Any]:
    return {"text": text, "from": "+250788383383", "to": "2020",
            "external_ids": ["47915af7-12a2-4816-858a-6d9fb8fc693e"], **extra}


RECEIVE = [
    InboundCase("GSM-7 MO as Jasmin 0.11 sends it", R, body=mo(GSM, b"\x00"), headers=FORM, contains=["ACK/Jasmin"],
                messages=[stored("événement @ {x}")]),
    InboundCase("UCS-2 MO with an emoji (bytes that are not UTF-8)", R, body=mo(UCS2, b"\x08"), headers=FORM,
                contains=["ACK/Jasmin"], messages=[stored("Привет 👋")]),
    InboundCase("UCS-2 from content alone (no binary)", R, body=mo(UCS2, b"\x08", binary=False), headers=FORM,
                messages=[stored("Привет 👋")]),
    InboundCase("Latin-1 (coding 3)", R, body=mo("café".encode("latin-1"), b"\x03"), headers=FORM,
                messages=[stored("café")]),
    InboundCase("courier's case: decimal coding, From/To in another case", R,
                body="content=%05v%05nement&coding=0&From=2349067554729&To=2349067554711&id=1001", headers=FORM,
                contains=["ACK/Jasmin"], messages=[{"text": "événement", "from": "+2349067554729",
                                                    "to": "2349067554711", "external_ids": ["1001"]}]),
    InboundCase("decimal coding 8", R, body=mo(UCS2, b"8"), headers=FORM, messages=[stored("Привет 👋")]),
    InboundCase("no coding: the SMSC default alphabet", R,
                body="id=m1&from=250788383383&to=2020&content=" + urllib.parse.quote_plus(GSM), headers=FORM,
                messages=[{"text": "événement @ {x}", "external_ids": ["m1"]}]),
    InboundCase("8-bit data keeps every byte", R, body=mo(b"\x00\x01caf\xe9", b"\x04"), headers=FORM,
                messages=[stored("\x00\x01caf\xe9")]),
    InboundCase("an odd UCS-2 byte count does not fail", R, body=mo(UCS2[:-1], b"\x08"), headers=FORM,
                messages=[stored("Привет \ufffd\ufffd")]),  # a lone surrogate, then the odd byte
    InboundCase("GET, as a connector with method GET calls", R + "?" + mo(GSM, b"\x00"), method="GET",
                contains=["ACK/Jasmin"], messages=[stored("événement @ {x}")]),
    InboundCase("missing to", R, body="content=hi&coding=0&from=250788383383&id=1", headers=FORM, status=400,
                contains=["field 'to' required"], messages=[]),
    InboundCase("missing everything names every field", R, body="content=hi", headers=FORM, status=400,
                contains=["field 'to' required", "field 'from' required", "field 'id' required"], messages=[]),
    InboundCase("a sender id is not a possible number", R, body=mo(GSM, b"\x00", **{"from": "MTN"}), headers=FORM,
                status=400, contains=["not a possible number"], messages=[]),
]

STATUS_BASE = {"id": JASMIN_ID, "connector": "2571615123", "id_smsc": "2571615123", "sub": "001", "dlvrd": "001",
               "subdate": "1305050826", "donedate": "1305050826", "err": "000", "text": "b'Hello'"}


def dlr(query: str = f"?msg={MSG_ID}", **fields: str) -> dict[str, Any]:
    """A receipt as Jasmin's DLRThrower POSTs it to the dlr-url (ours carries `msg`)."""
    values = {**STATUS_BASE, "level": "2", **fields}
    return {"path": S + query, "body": urllib.parse.urlencode({k: v for k, v in values.items() if v is not None}),
            "headers": {**FORM, "user-agent": "Jasmin gateway/1.0 DLRThrower"}}


STATUS = [
    InboundCase("delivered", **dlr(message_status="DELIVRD"), contains=["ACK/Jasmin"], statuses={MSG_ID: "delivered"}),
    InboundCase("accepted: sent", **dlr(message_status="ACCEPTD"), statuses={MSG_ID: "sent"}),
    InboundCase("undelivered: failed", **dlr(message_status="UNDELIV", err="008"), statuses={MSG_ID: "failed"}),
    InboundCase("rejected: failed", **dlr(message_status="REJECTD"), statuses={MSG_ID: "failed"}),
    InboundCase("expired: failed", **dlr(message_status="EXPIRED"), statuses={MSG_ID: "failed"}),
    InboundCase("deleted: failed", **dlr(message_status="DELETED"), statuses={MSG_ID: "failed"}),
    InboundCase("unknown: wired (courier), no change", **dlr(message_status="UNKNOWN"), statuses={MSG_ID: "wired"}),
    InboundCase("matched by Jasmin's id without ours", **dlr("", message_status="DELIVRD"),
                statuses={MSG_ID: "delivered"}),
    InboundCase("matched by our id when Jasmin's is unknown", **dlr(f"?msg={OTHER_ID}", id="not-known",
                                                                   message_status="DELIVRD"),
                statuses={OTHER_ID: "delivered", MSG_ID: "wired"}),
    InboundCase("courier's case: dlvrd=1 alone", **dlr("", message_status=None, dlvrd="1"),
                statuses={MSG_ID: "delivered"}),
    InboundCase("courier's case: err=1 alone", **dlr("", message_status=None, dlvrd="0", err="1"),
                statuses={MSG_ID: "failed"}),
    InboundCase("ND fields from a terse SMSC (courier: 400)", **dlr(message_status="DELIVRD", dlvrd="ND", err="ND",
                                                                    sub="ND"), statuses={MSG_ID: "delivered"}),
    InboundCase("level 1 ESME_ROK: sent (courier: 400)", S + f"?msg={MSG_ID}",
                body=f"id={JASMIN_ID}&level=1&message_status=ESME_ROK&connector=upstream", headers=FORM,
                contains=["ACK/Jasmin"], statuses={MSG_ID: "sent"}),
    InboundCase("level 1 error: failed", S + f"?msg={MSG_ID}",
                body=f"id={JASMIN_ID}&level=1&message_status=ESME_RINVDSTADR&connector=upstream", headers=FORM,
                statuses={MSG_ID: "failed"}),
    InboundCase("an unknown id is still stored and answered ACK", **dlr("", id="nope", message_status="DELIVRD"),
                contains=["ACK/Jasmin"], statuses={MSG_ID: "wired"}),
    InboundCase("no id", S, body="nothing", headers=FORM, status=400, contains=["field 'id' required"],
                statuses={MSG_ID: "wired"}),
    InboundCase("neither a status nor dlvrd/err", **dlr("", message_status=None, dlvrd="0", err="0"), status=400,
                contains=["must have a known message_status or either dlvrd or err set to 1"],
                statuses={MSG_ID: "wired"}),
    InboundCase("GET, as with dlr-method GET (Jasmin appends its fields)", S + f"?msg={MSG_ID}&id={JASMIN_ID}"
                "&level=2&message_status=DELIVRD", method="GET", contains=["ACK/Jasmin"],
                statuses={MSG_ID: "delivered"}),
]


def harness_with_sent(smsgate_harness):
    """A channel `ch` with two wired messages: MSG_ID (Jasmin id JASMIN_ID) and OTHER_ID (another one)."""
    answers = iter([JASMIN_ID, "d6cd2517-3e96-430f-90d9-f2acb3bd82bf"])
    harness = smsgate_harness({"ch": CHANNEL}, respond=lambda request: httpx.Response(
        200, text=f'Success "{next(answers)}"'))
    assert harness.send("ch", "+250788383383", "hi", id=MSG_ID).message.external_ids == [JASMIN_ID]
    assert harness.send("ch", "+250788383383", "hi", id=OTHER_ID).message.status == "wired"
    return harness


@pytest.mark.parametrize("case", RECEIVE, ids=[c.label for c in RECEIVE])
def test_receive(smsgate_harness, case: InboundCase) -> None:
    response = run_inbound_case(smsgate_harness({"ch": CHANNEL}), case)
    if case.status == 200:
        assert (response.text, response.headers["content-type"]) == ("ACK/Jasmin", "text/plain; charset=utf-8")


@pytest.mark.parametrize("case", STATUS, ids=[c.label for c in STATUS])
def test_status(smsgate_harness, case: InboundCase) -> None:
    response = run_inbound_case(harness_with_sent(smsgate_harness), case)
    if case.status == 200:
        assert response.text == "ACK/Jasmin"


def test_a_redelivered_mo_is_stored_once_and_acknowledged_each_time(smsgate_harness) -> None:
    harness = smsgate_harness({"ch": CHANNEL})
    for _ in range(2):
        assert harness.request("POST", R, content=mo(UCS2, b"\x08"), headers=FORM).text == "ACK/Jasmin"
    assert [m.text for m in harness.messages(direction="in")] == ["Привет 👋"]


def test_a_failure_keeps_the_receipt_status_and_err(smsgate_harness) -> None:
    harness = harness_with_sent(smsgate_harness)
    run_inbound_case(harness, InboundCase("undeliv", **dlr(message_status="UNDELIV", err="008")))
    record = harness.message(MSG_ID)
    assert record is not None and (record.error_code, record.error_reason) == ("UNDELIV", "UNDELIV (err 008)")
