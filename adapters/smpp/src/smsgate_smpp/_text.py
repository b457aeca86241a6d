"""What travels in short_message: texts encoded as core's text module decides, split by UDH, SAR or
message_payload; MO bytes decoded by data_coding; concatenation headers; delivery receipts."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Any

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
from smsgate.text import segment

__all__ = [
    "Concat",
    "Part",
    "Receipt",
    "decode_short_message",
    "encode_parts",
    "is_receipt",
    "normalize_id",
    "parse_concat",
    "parse_receipt",
]

GSM7 = "gsm03.38"
#: data_coding values a channel may pick for texts core's text module finds GSM-7, with their codec
GSM7_CODINGS = {0: GSM7, 1: "ascii", 3: "latin-1"}
UCS2 = 8

# SMPP 3.4 data_coding → codec (§5.2.19); 2 and 4 are 8-bit binary, kept byte for byte as Latin-1
_CODECS = {1: "ascii", 2: "latin-1", 3: "latin-1", 4: "latin-1", 5: "shift_jis", 6: "iso8859-5", 7: "iso8859-8",
           8: "utf-16-be", 13: "iso2022_jp", 14: "euc_kr"}


@dataclass(frozen=True, slots=True)
class Part:
    """One submit_sm's worth of a text: short_message bytes, esm_class, data_coding and TLVs."""

    short_message: bytes
    data_coding: int
    esm_class: int = 0
    tlvs: dict[str, Any] = field(default_factory=dict)


def _ref(message_id: str, bits: int) -> int:
    # from the message id: the parts of a retried send carry the same reference as the first try's
    return int(message_id.replace("-", "")[-8:], 16) % (1 << bits) if message_id else 0


def encode_parts(text: str, message_id: str, *, data_coding: int = 0, method: str = "udh") -> tuple[list[Part], int]:
    """The submit_sm payloads for `text` and its segment count. GSM-7 or UCS-2 is core's `segment()` choice;
    long texts are cut where `segment()` cuts (153/67 units, a pair never split) and joined by `method`:
    a UDH per part, SAR TLVs per part, or the whole text in one message_payload TLV."""
    segments = segment(text)
    gsm = segments.encoding == "gsm7"
    codec, coding = (GSM7_CODINGS.get(data_coding, GSM7), data_coding) if gsm else ("utf-16-be", UCS2)
    if gsm and codec != GSM7 and not _fits(text, codec):
        codec, coding = "utf-16-be", UCS2  # a GSM-7 character the channel's alphabet lacks: UCS-2 keeps it

    def enc(value: str) -> bytes:
        return value.encode(codec)

    if segments.count == 1:
        return [Part(enc(text), coding)], 1
    if method == "payload":
        return [Part(b"", coding, tlvs={"message_payload": enc(text)})], segments.count
    total = segments.count
    if total > 255:
        raise ValueError(f"{total} segments: SMS concatenation allows at most 255")
    parts = []
    for index, piece in enumerate(segments.parts, start=1):
        if method == "sar":
            parts.append(Part(enc(piece), coding, tlvs={"sar_msg_ref_num": _ref(message_id, 16),
                                                        "sar_total_segments": total, "sar_segment_seqnum": index}))
        else:
            udh = bytes([5, 0, 3, _ref(message_id, 8), total, index])
            parts.append(Part(udh + enc(piece), coding, esm_class=0x40))
    return parts, total


def _fits(text: str, codec: str) -> bool:
    try:
        text.encode(codec)
    except UnicodeEncodeError:
        return False
    return True


def decode_short_message(data: bytes, data_coding: int, default_coding: int = 0) -> str:
    """MO text from its bytes by data_coding; never raises (an undecodable byte becomes U+FFFD).
    data_coding 0 is "the SMSC default alphabet": the channel's `data_coding` names which one it is."""
    if data_coding == 0:
        codec = GSM7_CODINGS.get(default_coding, GSM7)
    elif data_coding & 0xF0 == 0xF0:  # GSM 03.38 "data coding/message class": bit 2 set means 8-bit data
        codec = "latin-1" if data_coding & 0x04 else GSM7
    else:
        codec = _CODECS.get(data_coding, "latin-1")
    if codec == "utf-16-be" and len(data) % 2:  # an odd byte count cannot be UCS-2: keep what can be read
        return data[:-1].decode(codec, "replace") + "\ufffd"
    try:
        return codecs.decode(data, codec, "replace")
    except (LookupError, ValueError):
        return data.decode("latin-1")


@dataclass(frozen=True, slots=True)
class Concat:
    """Where one MO part belongs: its reference, the number of parts, its position (from 1)."""

    reference: str
    total: int
    index: int


def parse_concat(short_message: bytes, esm_class: int, tlvs: dict[str, Any]) -> tuple[Concat | None, bytes]:
    """The concatenation info of an MO (UDH IE 0x00/0x08 when esm_class has UDHI, else SAR TLVs) and its user
    data without the UDH. A malformed UDH leaves the bytes whole and no concatenation."""
    data = short_message
    concat = None
    if esm_class & 0x40 and data:
        length = data[0]
        if 1 + length <= len(data):
            header, data = data[1:1 + length], data[1 + length:]
            at = 0
            while at + 2 <= len(header):
                ie, size = header[at], header[at + 1]
                value = header[at + 2:at + 2 + size]
                if ie == 0x00 and size == 3 and len(value) == 3:
                    concat = Concat(f"u8:{value[0]}", value[1], value[2])
                elif ie == 0x08 and size == 4 and len(value) == 4:
                    concat = Concat(f"u16:{int.from_bytes(value[:2], 'big')}", value[2], value[3])
                at += 2 + size
    total, index = tlvs.get("sar_total_segments"), tlvs.get("sar_segment_seqnum")
    if concat is None and total and index is not None:
        concat = Concat(f"sar:{tlvs.get('sar_msg_ref_num') or 0}", int(total), int(index))
    if concat is not None and not (1 <= concat.index <= concat.total):
        concat = None  # a part number outside 1..total: store it as it is rather than wait forever
    if concat is not None and concat.total == 1:
        concat = None
    return concat, data


# message_state TLV values, read as a receipt's stat when its text has none
MESSAGE_STATE = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD", 7: "UNKNOWN",
                 8: "REJECTD"}
_RECEIPT_FIELD = re.compile(r"(?i)\b(id|sub|dlvrd|submit date|done date|stat|err|text):\s*")


def is_receipt(esm_class: int) -> bool:
    """esm_class message type 'SMSC delivery receipt' (0x04) or 'intermediate notification' (0x20)."""
    return (esm_class & 0x3C) in (0x04, 0x20)


@dataclass(frozen=True, slots=True)
class Receipt:
    """A delivery receipt: the message id it is about, its stat and err, and every field it had."""

    message_id: str
    stat: str
    err: str
    fields: dict[str, str]


def normalize_id(value: str) -> str:
    """An SMSC message id as stored and matched: trimmed, lower-case, without leading zeros if numeric."""
    value = value.strip().strip("\x00").lower()
    if value.isdigit():
        value = value.lstrip("0") or "0"
    return value


def parse_receipt(text: str, tlvs: dict[str, Any]) -> Receipt | None:
    """A receipt from its text (`id:... stat:... err:...`) and TLVs (receipted_message_id, message_state);
    the TLV wins for the id. None when it names no message."""
    fields: dict[str, str] = {}
    matches = list(_RECEIPT_FIELD.finditer(text))
    for match, following in zip(matches, [*matches[1:], None], strict=False):
        end = following.start() if following else len(text)
        fields[match.group(1).lower()] = text[match.end():end].strip()
    tlv_id = tlvs.get("receipted_message_id")
    if isinstance(tlv_id, bytes):
        tlv_id = tlv_id.decode("latin-1")
    message_id = normalize_id(str(tlv_id or fields.get("id", "")))
    stat = fields.get("stat", "").upper()[:7]
    if not stat and tlvs.get("message_state") is not None:
        stat = MESSAGE_STATE.get(int(tlvs["message_state"]), "UNKNOWN")
    if not message_id:
        return None
    return Receipt(message_id, stat, fields.get("err", ""), fields)
