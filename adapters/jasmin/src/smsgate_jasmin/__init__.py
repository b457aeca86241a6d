"""smsgate adapter for a Jasmin SMS gateway's HTTP API.

Sends with `GET {send_url}?username=&password=&to=&content=|hex-content=&coding=&dlr=yes&dlr-url=...` (one call
per piece that fits Jasmin's part limit), takes MOs from a Jasmin HTTP client connector on
`/c/<channel>/receive` and delivery receipts from its DLR thrower on `/c/<channel>/status`, answering both
`ACK/Jasmin`. README.md lists the channel's keys, the jCli commands that connect Jasmin, and every difference
from RapidPro's courier.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (/send and the
routes), `_status` (Jasmin's answers and receipts in smsgate's terms), `_text` (coding, hex-content, cutting to
the part limit, MO bytes by data coding).
"""

from __future__ import annotations

from typing import Any

from smsgate import hookimpl

from ._adapter import JasminAdapter
from ._settings import JasminSettings
from ._status import ACK, RECEIPT_STATUS, check_send
from ._text import decode_mo, fit_parts

__all__ = [
    "ACK",
    "RECEIPT_STATUS",
    "JasminAdapter",
    "JasminSettings",
    "check_send",
    "decode_mo",
    "fit_parts",
    "smsgate_register_adapters",
]


@hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `jasmin` adapter."""
    register(JasminAdapter)
