"""SMPP 3.4 PDUs as bytes and back, on smpplib's encoder/decoder; command_status names; framing limits."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import smpplib.command_codes
import smpplib.consts
import smpplib.exceptions
import smpplib.smpp

__all__ = [
    "ESME_RMSGQFUL",
    "ESME_ROK",
    "ESME_RTHROTTLED",
    "ESME_RX_T_APPN",
    "MAX_PDU",
    "Pdu",
    "PduError",
    "STATUS_NAMES",
    "decode",
    "encode",
    "status_name",
]

ESME_ROK = 0x00
ESME_RINVBNDSTS = 0x04
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
ESME_RX_T_APPN = 0x64  # "ESME receiver temporary app error": the SMSC delivers again later
ESME_RINVCMDID = 0x03
MAX_PDU = 64 * 1024  # a peer announcing more is not speaking SMPP; the connection is dropped

#: command_status value → its SMPP name (ESME_RTHROTTLED...), from smpplib's constants
STATUS_NAMES = {value: name.removeprefix("SMPP_") for name, value in vars(smpplib.consts).items()
          if name.startswith("SMPP_ESME_") and isinstance(value, int)}
_FIELD_SKIP = {"command", "status", "sequence", "length", "client", "allow_unknown_opt_params", "params",
               "params_order", "mandatory_fields", "_sequence", "_client", "_length"}


def status_name(status: int) -> str:
    """`ESME_RTHROTTLED (0x00000058)`: the SMPP name of a command_status with its value."""
    return f"{STATUS_NAMES.get(status, 'unknown status')} (0x{status:08X})"


class PduError(ValueError):
    """Bytes that are not a PDU this codec understands."""


class _Sequence:
    """smpplib asks its client for sequence numbers; the session assigns them itself."""

    sequence = 0

    def next_sequence(self) -> int:
        return 0


_SEQ = _Sequence()


@dataclass(slots=True)
class Pdu:
    """A decoded PDU: its command name, command_status, sequence number and the fields it carries."""

    command: str
    status: int
    sequence: int
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def is_response(self) -> bool:
        """True for a `*_resp` or generic_nack."""
        return self.command.endswith("_resp") or self.command == "generic_nack"

    def text(self, name: str) -> str:
        """A C-octet string field as text ('' when absent)."""
        value = self.fields.get(name)
        if isinstance(value, bytes):
            return value.decode("latin-1")
        return "" if value is None else str(value)


def encode(command: str, sequence: int, status: int = ESME_ROK, **fields: Any) -> bytes:
    """The wire bytes of one PDU; text fields are str, octet strings bytes, TLVs by smpplib's names."""
    try:
        pdu = smpplib.smpp.make_pdu(command, client=_SEQ, sequence=sequence, status=status, **fields)
        pdu.sequence = sequence
        pdu.status = status
        return bytes(pdu.generate())
    except (ValueError, TypeError, KeyError, struct.error, smpplib.exceptions.UnknownCommandError) as exc:
        raise PduError(f"cannot encode {command}: {exc}") from None


def decode(data: bytes) -> Pdu:
    """One whole PDU (its first 4 bytes are its length); PduError when it cannot be read."""
    if len(data) < 16:
        raise PduError(f"a PDU has a 16-byte header, got {len(data)} bytes")
    length, command_id, status, sequence = struct.unpack(">LLLL", data[:16])
    if length != len(data):
        raise PduError(f"command_length {length} but {len(data)} bytes")
    try:
        parsed = smpplib.smpp.parse_pdu(data, client=_SEQ, allow_unknown_opt_params=True)
    except smpplib.exceptions.UnknownCommandError:
        raise PduError(f"unknown command_id 0x{command_id:08X}") from None
    except (ValueError, TypeError, KeyError, IndexError, struct.error, UnicodeDecodeError) as exc:
        command = _command_name(command_id)
        raise PduError(f"malformed {command}: {type(exc).__name__}: {exc}") from None
    if parsed is None:
        raise PduError(f"unknown command_id 0x{command_id:08X}")
    fields = {name: getattr(parsed, name) for name in getattr(parsed, "params", {}) if name not in _FIELD_SKIP
              and getattr(parsed, name, None) is not None}
    return Pdu(parsed.command, status, sequence, fields)


def _command_name(command_id: int) -> str:
    try:
        return str(smpplib.command_codes.get_command_name(command_id))
    except Exception:
        return f"command 0x{command_id:08X}"


def sequence_of(data: bytes) -> int:
    """The sequence number in a PDU's header (even of a PDU that cannot be decoded)."""
    return int(struct.unpack(">L", data[12:16])[0]) if len(data) >= 16 else 0


def command_id_of(data: bytes) -> int:
    """The command_id in a PDU's header."""
    return int(struct.unpack(">L", data[4:8])[0]) if len(data) >= 8 else 0
