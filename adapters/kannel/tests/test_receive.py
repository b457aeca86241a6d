"""Kannel's callbacks: mobile-originated messages (sms-service get-url) and delivery reports (dlr-url).

Courier-style tables: each case is one request through the real ASGI app and what must be answered and stored.
"""

from __future__ import annotations

import urllib.parse

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from smsgate.testing import InboundCase, run_inbound_case
from smsgate_kannel import decode_text

MSG_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
OTHER_ID = "7e0c3a51-1f4e-4d0f-9d6a-0b2f7c9a4e11"
CHANNEL = {"adapter": "kannel", "address": "2020", "country": "RW", "send_url": "http://kannel:13013/cgi-bin/sendsms",
           "username": "gate", "password": "secretpw"}
RECEIVE = "/c/kn/receive"
STATUS = "/c/kn/status"
# what Kannel sends for `%a` of a UCS-2 MO: url-encoded UTF-16BE bytes
UCS2 = urllib.parse.quote_plus("Привет 👋 a+b".encode("utf-16-be"), safe="")


def q(**params: str) -> str:
    """A query string in Kannel's own escaping (space as '+')."""
    return urllib.parse.urlencode(params)


MO = {"sender": "+250788383383", "to": "2020", "message": "Join", "ts": "1493735509", "id": "12345"}


def stored(text: str, **more: object) -> dict[str, object]:
    return {"from": "+250788383383", "text": text, "external_ids": ["12345"], "status": "received", **more}


RECEIVE_CASES = [
    InboundCase("get-url GET", f"{RECEIVE}?{q(**MO, coding='0', charset='UTF-8')}", method="GET",
                contains=["Message Accepted"],
                messages=[stored("Join", to="2020", received_at="2017-05-02T14:31:49.000000+00:00")]),
    InboundCase("POST with the params in the query (courier's tests)", f"{RECEIVE}?{q(**MO)}",
                messages=[stored("Join")]),
    InboundCase("POST form", RECEIVE, data=MO, messages=[stored("Join")]),
    InboundCase("form wins over query", f"{RECEIVE}?{q(message='query')}", data=MO, messages=[stored("Join")]),
    InboundCase("empty message is accepted", f"{RECEIVE}?{q(**{**MO, 'message': ''})}", method="GET",
                messages=[stored("")]),
    InboundCase("no message parameter at all", f"{RECEIVE}?{q(**{k: v for k, v in MO.items() if k != 'message'})}",
                method="GET", messages=[stored("")]),
    InboundCase("local sender with the channel country", f"{RECEIVE}?{q(**{**MO, 'sender': '0788383383'})}",
                method="GET", messages=[stored("Join")]),
    InboundCase("no to: the channel address", f"{RECEIVE}?{q(**{k: v for k, v in MO.items() if k != 'to'})}",
                method="GET", messages=[stored("Join", to="2020")]),
    InboundCase("UCS-2 MO as Kannel sends it", f"{RECEIVE}?{q(**{k: v for k, v in MO.items() if k != 'message'})}"
                f"&message={UCS2}&coding=2&charset=UTF-16BE", method="GET", messages=[stored("Привет 👋 a+b")]),
    InboundCase("UCS-2 without charset", f"{RECEIVE}?{q(**{k: v for k, v in MO.items() if k != 'message'})}"
                f"&message={UCS2}&coding=2", method="GET", messages=[stored("Привет 👋 a+b")]),
    InboundCase("UCS-2 in a POST form body", RECEIVE, method="POST",
                body=f"{q(**{k: v for k, v in MO.items() if k != 'message'})}&message={UCS2}&coding=2"
                     "&charset=UTF-16BE",
                headers={"content-type": "application/x-www-form-urlencoded"},
                messages=[stored("Привет 👋 a+b")]),  # a raw_form route: the core hands the adapter the bytes
    InboundCase("mo-recode: coding 2 already converted to UTF-8", f"{RECEIVE}?{q(**{**MO, 'message': 'Привет 👋'})}"
                "&coding=2&charset=UTF-8", method="GET", messages=[stored("Привет 👋")]),
    InboundCase("UTF-8 text with coding 0", f"{RECEIVE}?{q(**{**MO, 'message': 'Mañana ☺'})}&coding=0&charset=UTF-8",
                method="GET", messages=[stored("Mañana ☺")]),
    InboundCase("Windows-1252 charset", f"{RECEIVE}?{q(**{k: v for k, v in MO.items() if k != 'message'})}"
                "&message=caf%E9+%80&charset=WINDOWS-1252", method="GET", messages=[stored("café €")]),
    InboundCase("8-bit data keeps every byte", f"{RECEIVE}?{q(**{k: v for k, v in MO.items() if k != 'message'})}"
                "&message=%00%01caf%E9&coding=1&charset=8-BIT", method="GET",
                messages=[stored("\x00\x01caf\xe9")]),
    InboundCase("a non-text codec name is not applied", f"{RECEIVE}?{q(**MO)}&charset=base64", method="GET",
                messages=[stored("Join")]),
    InboundCase("missing everything names every field", RECEIVE, method="GET", status=400,
                contains=["field 'id' required", "field 'ts' required", "field 'sender' required"], messages=[]),
    InboundCase("missing id", f"{RECEIVE}?{q(**{k: v for k, v in MO.items() if k != 'id'})}", method="GET",
                status=400, contains=["field 'id' required"], messages=[]),
    InboundCase("empty sender", f"{RECEIVE}?{q(**{**MO, 'sender': ''})}", method="GET", status=400,
                contains=["field 'sender' required"], messages=[]),
    InboundCase("ts 0 is missing", f"{RECEIVE}?{q(**{**MO, 'ts': '0'})}", method="GET", status=400,
                contains=["field 'ts' required"], messages=[]),
    InboundCase("ts as a date (%t instead of %T)", f"{RECEIVE}?{q(**{**MO, 'ts': '2017-05-02 14:31:49'})}",
                method="GET", status=400, contains=["unix seconds"], messages=[]),
    InboundCase("ts out of range", f"{RECEIVE}?{q(**{**MO, 'ts': '9' * 30})}", method="GET", status=400,
                contains=["unix seconds"], messages=[]),
    InboundCase("negative ts", f"{RECEIVE}?{q(**{**MO, 'ts': '-5'})}", method="GET", status=400,
                contains=["positive"], messages=[]),
    InboundCase("sender id is not a number", f"{RECEIVE}?{q(**{**MO, 'sender': 'MTN'})}", method="GET", status=400,
                contains=["not a possible number"], messages=[]),
    InboundCase("PUT is not a route method", f"{RECEIVE}?{q(**MO)}", method="PUT", status=405, messages=[]),
]


@pytest.fixture
def harness(smsgate_harness):
    return smsgate_harness({"kn": CHANNEL})


@pytest.mark.parametrize("case", RECEIVE_CASES, ids=lambda c: c.label)
def test_receive(harness, case):
    run_inbound_case(harness, case)


def test_a_retried_mo_is_stored_once(harness):
    first = run_inbound_case(harness, InboundCase("first", f"{RECEIVE}?{q(**MO)}", method="GET",
                                                  messages=[stored("Join")]))
    again = run_inbound_case(harness, InboundCase("retry", f"{RECEIVE}?{q(**MO)}", method="GET", messages=[]))
    assert again.json()["data"][0]["duplicate"] is True
    assert again.json()["data"][0]["id"] == first.json()["data"][0]["id"]
    assert len(harness.messages(direction="in")) == 1


def test_the_same_kannel_id_on_another_channel_is_another_message(smsgate_harness):
    h = smsgate_harness({"kn": CHANNEL, "kn2": CHANNEL})
    h.request("GET", f"{RECEIVE}?{q(**MO)}")
    h.request("GET", f"/c/kn2/receive?{q(**MO)}")
    assert sorted(m.channel for m in h.messages(direction="in")) == ["kn", "kn2"]


def test_mo_raw_details_are_kept(harness):
    without_text = {k: v for k, v in MO.items() if k != "message"}
    harness.request("GET", f"{RECEIVE}?{q(**without_text)}&message=%00%FF&coding=1&charset=8-BIT")
    [message] = harness.messages(direction="in")
    raw = message.metadata["raw"]
    assert raw["coding"] == "1" and raw["charset"] == "8-BIT" and raw["message_hex"] == "00ff"
    assert raw["id"] == "12345" and "message" not in raw


# -- delivery reports -------------------------------------------------------------------------------------


def dlr(status: str | None = None, message_id: str | None = MSG_ID, **more: str) -> str:
    params = {**({"id": message_id} if message_id is not None else {}),
              **({"status": status} if status is not None else {}), **more}
    return f"{STATUS}?{urllib.parse.urlencode(params)}"


STATUS_CASES = [
    InboundCase("1 delivered", dlr("1", smsc_reply="ACK/"), method="GET", contains=['"status":"delivered"'],
                statuses={MSG_ID: "delivered"}),
    InboundCase("2 failed at the phone", dlr("2", smsc_reply="NACK/0x00000045/Unknown"), method="GET",
                statuses={MSG_ID: "failed"}),
    InboundCase("4 buffered: sent", dlr("4"), method="GET", statuses={MSG_ID: "sent"}),
    InboundCase("8 accepted by SMSC: sent", dlr("8", smsc_reply="ACK/"), method="GET", statuses={MSG_ID: "sent"}),
    InboundCase("16 rejected by SMSC: failed", dlr("16"), method="GET", statuses={MSG_ID: "failed"}),
    InboundCase("POST form", STATUS, data={"id": MSG_ID, "status": "1"}, statuses={MSG_ID: "delivered"}),
    InboundCase("courier's uuid parameter", f"{STATUS}?uuid={MSG_ID}&status=1", method="GET",
                statuses={MSG_ID: "delivered"}),
    InboundCase("unknown type is ignored with 200", dlr("66"), method="GET",
                contains=["Ignored", "ignoring unknown status '66'"], statuses={MSG_ID: "wired"}),
    InboundCase("status 0 is missing", dlr("0"), method="GET", status=400, contains=["field 'status' required"],
                statuses={MSG_ID: "wired"}),
    InboundCase("status missing", dlr(None), method="GET", status=400, contains=["field 'status' required"]),
    InboundCase("status not a number (%d not substituted)", dlr("%d"), method="GET", status=400,
                contains=["integer"], statuses={MSG_ID: "wired"}),
    InboundCase("id missing", dlr("1", message_id=None), method="GET", status=400, contains=["field 'id' required"],
                statuses={MSG_ID: "wired"}),
    InboundCase("nothing at all names both", STATUS, method="GET", status=400,
                contains=["field 'id' required", "field 'status' required"]),
    InboundCase("id not a UUID", dlr("1", message_id="12345"), method="GET", status=400, contains=["UUID"],
                statuses={MSG_ID: "wired"}),
    InboundCase("a report for a message we never sent is kept, 200", dlr("1", message_id=OTHER_ID), method="GET",
                contains=['"known_message":false'], statuses={MSG_ID: "wired"}),
]


@pytest.fixture
def sent_harness(smsgate_harness):
    h = smsgate_harness({"kn": CHANNEL}, respond=lambda r: httpx.Response(202, text="0: Accepted for delivery"))
    assert h.send("kn", "+250788383383", "hello", id=MSG_ID).message.status == "wired"
    return h


@pytest.mark.parametrize("case", STATUS_CASES, ids=lambda c: c.label)
def test_status(sent_harness, case):
    run_inbound_case(sent_harness, case)


@pytest.mark.parametrize(("dlr_type", "code", "reason"), [
    ("2", "dlr:2", "not delivered to the phone: NACK/0x00000045/Unknown"),
    ("16", "dlr:16", "rejected by the SMSC: NACK/0x00000045/Unknown"),
])
def test_failure_reports_keep_the_smsc_reply(sent_harness, dlr_type, code, reason):
    sent_harness.request("GET", dlr(dlr_type, smsc_reply="NACK/0x00000045/Unknown"))
    message = sent_harness.message(MSG_ID)
    assert (message.status, message.error_code, message.error_reason) == ("failed", code, reason)


def test_the_full_kannel_sequence(sent_harness):
    """dlr-mask 31 on the fake SMSC: 8 (accepted) then 1 (delivered)."""
    for status in ("8", "1"):
        assert sent_harness.request("GET", dlr(status, smsc_reply="ACK/")).status_code == 200
    message = sent_harness.message(MSG_ID)
    assert message.status == "delivered"
    assert [h["status"] for h in message.history] == ["queued", "wired", "sent", "delivered"]


@pytest.mark.parametrize("dlr_type", ["4", "8"])
def test_ignore_sent(smsgate_harness, dlr_type):
    h = smsgate_harness({"kn": {**CHANNEL, "ignore_sent": True}}, respond=lambda r: httpx.Response(202))
    h.send("kn", "+250788383383", "hello", id=MSG_ID)
    run_inbound_case(h, InboundCase("ignored", dlr(dlr_type), method="GET",
                                    contains=["ignoring sent report (message already wired)"],
                                    statuses={MSG_ID: "wired"}))
    run_inbound_case(h, InboundCase("delivered still counts", dlr("1"), method="GET", statuses={MSG_ID: "delivered"}))


def test_unknown_dlr_is_logged(sent_harness, caplog):
    caplog.set_level("WARNING", logger="smsgate.kannel")
    sent_harness.request("GET", dlr("66"))
    assert "unknown Kannel DLR type 66" in caplog.text
    callbacks = [entry for entry in sent_harness.logs(channel="kn") if entry["kind"] == "status"]
    assert callbacks and "status=66" in callbacks[0]["traces"][0]["url"]
    assert callbacks[0]["errors"] == ["ignoring unknown status '66'"]  # shown by `smsgate logs --errors`


@pytest.mark.parametrize("dlr_type", ["4", "8"])
def test_deliberately_ignored_reports_are_not_errors(smsgate_harness, dlr_type):
    h = smsgate_harness({"kn": {**CHANNEL, "ignore_sent": True}}, respond=lambda r: httpx.Response(202))
    h.send("kn", "+250788383383", "hello", id=MSG_ID)
    h.request("GET", dlr(dlr_type))
    assert [entry["errors"] for entry in h.logs(channel="kn") if entry["kind"] == "status"] == [[]]


# -- decoding and fuzzing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "coding", "charset", "text"), [
    ("Hi ☺".encode("utf-16-be"), "2", "UTF-16BE", "Hi ☺"),
    ("Hi ☺".encode("utf-16-be"), "2", "", "Hi ☺"),
    ("Hi ☺".encode("utf-16-be"), "2", "UCS-2", "Hi ☺"),
    (b"\xfe\xff" + "Hi".encode("utf-16-be"), "2", "UTF-16", "Hi"),
    (b"\xff\xfe" + "Hi".encode("utf-16-le"), "2", "", "Hi"),
    ("Hi ☺".encode(), "2", "UTF-8", "Hi ☺"),
    ("Hi ☺".encode(), "0", "UTF-8", "Hi ☺"),
    ("Hi ☺".encode(), "", "", "Hi ☺"),
    (b"caf\xe9", "0", "ISO-8859-1", "café"),
    (b"caf\xe9", "0", "", "café"),  # not UTF-8: each byte kept as Latin-1
    (b"caf\xe9", "0", "no-such-charset", "café"),
    (b"\x00\xff", "1", "8-BIT", "\x00\xff"),
    (b"H\x00", "2", "UTF-16BE", "\u4800"),
    (b"H", "2", "UTF-16BE", "\ufffd"),  # odd byte count: replaced, not an error
    (b"\\u0041", "0", "unicode_escape", "\\u0041"),
])
def test_decode_text(raw, coding, charset, text):
    assert decode_text(raw, coding, charset) == text


def test_fuzzed_callbacks_never_crash(smsgate_harness):
    h = smsgate_harness({"kn": CHANNEL}, respond=lambda r: httpx.Response(202))
    h.send("kn", "+250788383383", "hello", id=MSG_ID)
    names = st.sampled_from(["sender", "message", "ts", "id", "to", "coding", "charset", "status", "uuid",
                             "smsc_reply", "x"])
    values = st.one_of(st.binary(max_size=24), st.sampled_from([b"1", b"2", b"8", b"16", b"0", b"1493735509",
                                                                 MSG_ID.encode(), b"+250788383383", b"UTF-16BE"]))

    @settings(max_examples=200, deadline=None)
    @given(query=st.lists(st.tuples(names, values), max_size=8), action=st.sampled_from(["receive", "status"]),
           method=st.sampled_from(["GET", "POST"]))
    def check(query, action, method):
        wire = "&".join(f"{k}={urllib.parse.quote_from_bytes(v)}" for k, v in query)
        response = h.request(method, f"/c/kn/{action}?{wire}")
        assert response.status_code in (200, 400), response.text
        assert response.json()["message"]

    check()
