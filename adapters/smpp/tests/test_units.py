"""Tables for what the smpp adapter decides alone: error classes per command_status, receipt parsing, text
encoding and splitting, MO decoding and concatenation headers, settings."""

from __future__ import annotations

import pytest
from smsgate import Status
from smsgate.errors import (
    ChannelConfigError,
    ConfigError,
    ConnectionFailed,
    MessageInvalid,
    RejectedWithReason,
    Throttled,
)
from smsgate.host import config_from_dict
from smsgate.plugins import get_adapters
from smsgate_smpp import RECEIPT_STATUS, SmppAdapter, send_error
from smsgate_smpp._pdu import PduError, decode, encode
from smsgate_smpp._text import decode_short_message, encode_parts, is_receipt, normalize_id, parse_concat, parse_receipt


def test_entry_point_is_wired():
    assert get_adapters()["smpp"].distribution == "smsgate-smpp"


@pytest.mark.parametrize(("status", "kind", "name", "retryable", "not_taken"), [
    (0x58, Throttled, "ESME_RTHROTTLED", True, True),
    (0x14, Throttled, "ESME_RMSGQFUL", True, True),
    (0x0B, MessageInvalid, "ESME_RINVDSTADR", False, False),
    (0x0E, ChannelConfigError, "ESME_RINVPASWD", False, False),
    (0x04, ConnectionFailed, "ESME_RINVBNDSTS", True, True),
    (0x45, RejectedWithReason, "ESME_RSUBMITFAIL", False, False),
    (0x08, RejectedWithReason, "ESME_RSYSERR", False, False),
    (0x400, RejectedWithReason, "0x00000400", False, False),
])
def test_command_status_maps_to_the_error_tree_by_name(status, kind, name, retryable, not_taken):
    error = send_error("submit_sm", status, "smsc:2775")
    assert type(error) is kind and error.ext_code == name and error.retryable is retryable
    assert f"0x{status:08X}" in error.reason
    # a throttle or a refusal for the session's state proves the SMSC did not take it: a route may fail over
    assert error.not_taken is not_taken


@pytest.mark.parametrize(("text", "tlvs", "expected"), [
    ("id:AB12 submit date:2601011200 done date:2601011201 stat:DELIVRD err:000", {}, ("ab12", "DELIVRD", "000")),
    ("id:0000123 sub:001 dlvrd:001 submit date:x done date:y stat:UNDELIV err:012 text:hello", {},
     ("123", "UNDELIV", "012")),
    ("id:other stat:DELIVRD err:000", {"receipted_message_id": b"5b1a7a52-AAAA"}, ("5b1a7a52-aaaa", "DELIVRD", "000")),
    ("", {"receipted_message_id": b"77", "message_state": 8}, ("77", "REJECTD", "")),
])
def test_receipt_parsing(text, tlvs, expected):
    receipt = parse_receipt(text, tlvs)
    assert (receipt.message_id, receipt.stat, receipt.err) == expected


def test_receipt_states():
    assert RECEIPT_STATUS == {"DELIVRD": Status.DELIVERED, "ACCEPTD": Status.SENT, "ENROUTE": Status.SENT,
                              "UNDELIV": Status.FAILED, "REJECTD": Status.FAILED, "EXPIRED": Status.FAILED,
                              "DELETED": Status.FAILED}
    assert parse_receipt("stat:DELIVRD", {}) is None
    assert [is_receipt(e) for e in (0x00, 0x04, 0x40, 0x44, 0x08, 0x20)] == [False, True, False, True, False, True]
    assert normalize_id(" 00042\x00") == "42" and normalize_id("AbC") == "abc"


@pytest.mark.parametrize(("text", "coding", "method", "codings", "esm", "count"), [
    ("Hello {€}", 0, "udh", [0], [0], 1),
    ("Hello {é}", 3, "udh", [3], [0], 1),
    ("Hello {€}", 3, "udh", [8], [0], 1),  # Latin-1 lacks €: UCS-2 keeps it
    ("Hello Δ", 3, "udh", [8], [0], 1),  # Latin-1 lacks Δ: UCS-2 keeps it
    ("Привет 👋", 0, "udh", [8], [0], 1),
    ("x" * 161, 0, "udh", [0, 0], [0x40, 0x40], 2),
    ("x" * 161, 0, "sar", [0, 0], [0, 0], 2),
    ("x" * 161, 0, "payload", [0], [0], 2),
    ("ж" * 71, 0, "udh", [8, 8], [0x40, 0x40], 2),
])
def test_encoding_follows_core_segments(text, coding, method, codings, esm, count):
    parts, segments = encode_parts(text, "5b1a7a52-5a4f-4b8e-9c55-0e6f0d1b8a21", data_coding=coding, method=method)
    assert [p.data_coding for p in parts] == codings and [p.esm_class for p in parts] == esm
    assert segments == count
    joined = b"".join(p.short_message[6:] if p.esm_class & 0x40 else p.short_message or p.tlvs["message_payload"]
                      for p in parts)
    assert decode_short_message(joined, codings[0], coding) == text
    assert all(len(p.short_message) <= 140 or p.data_coding != 8 for p in parts)


def test_an_escape_pair_is_never_split():
    parts, _ = encode_parts("a" * 152 + "€" + "b" * 10, "00000000-0000-4000-8000-000000000001")
    assert parts[0].short_message[6:] == b"a" * 152 and parts[1].short_message[6:8] == b"\x1be"


@pytest.mark.parametrize(("data", "esm", "tlvs", "concat", "rest"), [
    (bytes([5, 0, 3, 9, 2, 1]) + b"abc", 0x40, {}, ("u8:9", 2, 1), b"abc"),
    (bytes([6, 8, 4, 1, 2, 3, 2]) + b"abc", 0x40, {}, ("u16:258", 3, 2), b"abc"),
    (b"abc", 0, {"sar_msg_ref_num": 7, "sar_total_segments": 2, "sar_segment_seqnum": 2}, ("sar:7", 2, 2), b"abc"),
    (bytes([5, 0, 3, 9, 2, 3]) + b"abc", 0x40, {}, None, b"abc"),  # part 3 of 2: stored as is
    (bytes([9, 0]) + b"x", 0x40, {}, None, bytes([9, 0]) + b"x"),  # a UDH longer than the data
    (b"plain", 0, {}, None, b"plain"),
])
def test_concatenation_headers(data, esm, tlvs, concat, rest):
    found, user_data = parse_concat(data, esm, tlvs)
    assert (None if found is None else (found.reference, found.total, found.index)) == concat
    assert user_data == rest


@pytest.mark.parametrize(("data", "coding", "default", "text"), [
    ("Hi £".encode("gsm03.38"), 0, 0, "Hi £"),
    (b"Hi \xa3", 0, 3, "Hi £"),
    (b"Hi \xa3", 3, 0, "Hi £"),
    ("Привет".encode("utf-16-be"), 8, 0, "Привет"),
    (b"\x04\x1f\x04", 8, 0, "П\ufffd"),  # an odd byte count: what can be read, never an exception
    (b"\xff\xfe", 4, 0, "ÿþ"),
    (b"abc", 0xF0, 0, "abc"),
])
def test_mo_decoding(data, coding, default, text):
    assert decode_short_message(data, coding, default) == text


def test_pdu_round_trip_and_bad_bytes():
    pdu = decode(encode("submit_sm", 7, source_addr="2020", destination_addr="250788", short_message=b"hi",
                        sar_msg_ref_num=5))
    assert (pdu.command, pdu.sequence, pdu.fields["short_message"], pdu.fields["sar_msg_ref_num"]) == (
        "submit_sm", 7, b"hi", 5)
    for bad in (b"", b"\x00\x00\x00\x10" + b"\xff" * 12, encode("submit_sm", 1)[:-3]):
        with pytest.raises(PduError):
            decode(bad)


@pytest.mark.parametrize(("keys", "field"), [
    ({"password": "toolongpw"}, "password"),
    ({"system_id": "x" * 16}, "system_id"),
    ({"bind_mode": "receiver"}, "bind_mode"),
    ({"long_message": "split"}, "long_message"),
    ({"window": 0}, "window"),
])
def test_bad_settings_name_the_field(keys, field):
    base = {"adapter": "smpp", "host": "127.0.0.1", "system_id": "esme", "password": "pw"}
    with pytest.raises(ConfigError) as error:
        config_from_dict({"channels": {"sm": {**base, **keys}}}, {"smpp": SmppAdapter})
    assert f"channels.sm.{field}" in str(error.value)
