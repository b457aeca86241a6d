"""smsgate adapter speaking SMPP 3.4 to an SMSC directly (an operator's SMSC, Jasmin, Kannel's SMPP server...).

`smsgate serve` keeps a long-lived bind per channel (transceiver, or a transmitter and a receiver), reconnects
with backoff and reports a bind that is down in /healthz, `smsgate check` and the channel log. A `smsgate send`
outside `serve` opens a short transmitter bind and unbinds when done. Delivery receipts and mobile-originated
messages arrive as deliver_sm on the long-lived bind; each deliver_sm_resp is written only after what it
carried is durably stored. README.md has the keys, a walkthrough against Jasmin and the differences from
reaching the same SMSC through Kannel.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (sending and
storing what arrives), `_bind` (connect, bind, reconnect, leases, health), `_messages` (messages ↔ PDU fields),
`_status` (command_status and receipt codes in smsgate's terms), `_text` (short_message encodings,
concatenation, receipts), `_session` (one SMPP session over asyncio), `_pdu` (PDU bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smsgate import Adapter, hookimpl

from ._adapter import SmppAdapter
from ._settings import SmppSettings
from ._status import RECEIPT_STATUS, send_error

__all__ = [
    "RECEIPT_STATUS",
    "SmppAdapter",
    "SmppSettings",
    "send_error",
    "smsgate_register_adapters",
]


@hookimpl
def smsgate_register_adapters(register: Callable[[type[Adapter[Any]]], None]) -> None:
    """Provide the `smpp` adapter."""
    register(SmppAdapter)
