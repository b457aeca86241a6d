"""smsgate's messages as SMPP fields and back: the submit_sm of each part of an OutgoingMessage, the event a
delivery receipt is, and the MO its stored parts make.

Pure mapping, no I/O: the adapter sends and stores; `_text` encodes and decodes what short_message carries.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any

from smsgate import Event, Fragment, Ignored, IncomingMessage, OutgoingMessage, Status, StatusUpdate
from smsgate.errors import MessageInvalid
from smsgate.text import with_attachments

from ._pdu import Pdu
from ._settings import SmppSettings
from ._status import RECEIPT_STATUS
from ._text import decode_short_message, encode_parts, parse_receipt

__all__ = ["addresses", "joined_mo", "receipt_event", "submits"]


def addresses(settings: SmppSettings, message: OutgoingMessage) -> dict[str, Any]:
    """source/destination address fields of a submit_sm for `message`."""
    source = message.from_ or settings.address
    digits = source.lstrip("+")
    alphanumeric = bool(source) and not digits.isdigit()
    source_ton = settings.source_ton if settings.source_ton is not None else (
        5 if alphanumeric else 1 if source.startswith("+") else 0)
    source_npi = settings.source_npi if settings.source_npi is not None else (0 if alphanumeric else 1)
    destination = message.to.lstrip("+") if settings.dest_ton == 1 else message.to
    return {"source_addr_ton": source_ton, "source_addr_npi": source_npi,
            "source_addr": digits if not alphanumeric else source, "dest_addr_ton": settings.dest_ton,
            "dest_addr_npi": settings.dest_npi, "destination_addr": destination}


def submits(settings: SmppSettings, message: OutgoingMessage) -> tuple[list[dict[str, Any]], int]:
    """The submit_sm fields of each part of `message`, and its segment count."""
    text = with_attachments(message.text, message.attachments)
    try:
        parts, count = encode_parts(text, message.id, data_coding=settings.data_coding,
                                    method=settings.long_message)
    except ValueError as exc:
        raise MessageInvalid(str(exc)) from None
    common = {**addresses(settings, message), "registered_delivery": 1 if settings.receipts else 0,
              "priority_flag": 1 if message.high_priority else 0}
    return [{**common, "esm_class": part.esm_class, "data_coding": part.data_coding,
             "short_message": part.short_message, **part.tlvs} for part in parts], count


def receipt_event(channel: str, pdu: Pdu) -> Event:
    """The StatusUpdate a delivery receipt carries, or an Ignored error when it names no message or stat."""
    short = pdu.fields.get("short_message") or pdu.fields.get("message_payload") or b""
    text = short.decode("latin-1") if isinstance(short, bytes) else str(short)
    receipt = parse_receipt(text, pdu.fields)
    raw = {"text": text, "message_state": pdu.fields.get("message_state")}
    if receipt is None:
        return Ignored(f"delivery receipt without a message id: {text[:120]!r}", error=True)
    status = RECEIPT_STATUS.get(receipt.stat)
    if status is None:
        return Ignored(f"delivery receipt for {receipt.message_id} with unknown stat {receipt.stat!r}",
                       error=True)
    failed = status is Status.FAILED
    return StatusUpdate(channel, status, external_id=receipt.message_id,
                        error_code=receipt.stat if failed else None,
                        error_reason=f"receipt stat:{receipt.stat} err:{receipt.err}" if failed else None,
                        raw={**raw, **receipt.fields})


def joined_mo(channel: str, parts: Sequence[Fragment], sender: str, to: str, default_coding: int
              ) -> list[Event]:
    """The MO made of its stored parts (runs in the store's transaction: quick and never raising)."""
    data = b"".join(bytes.fromhex(p.data["hex"]) for p in parts)
    coding = int(parts[0].data.get("data_coding", 0))
    text = decode_short_message(data, coding, default_coding)
    total = parts[0].total
    digest = hashlib.sha256(data + parts[0].key.encode()).hexdigest()[:24]
    raw: dict[str, Any] = {"data_coding": coding, "parts": total, "user_data_hex": data.hex()}
    if len(parts) < total:
        raw["missing_parts"] = sorted(set(range(1, total + 1)) - {p.index for p in parts})
    return [IncomingMessage(channel, sender, text, to=to,
                            external_id=f"concat:{digest}:{int(time.time() * 1000)}", raw=raw)]
