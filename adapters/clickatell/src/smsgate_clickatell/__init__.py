"""smsgate adapter for Clickatell's Platform HTTP API.

Sends with `GET {base_url}/messages/http/send?apiKey=&content=&from=&to=` (one request per part), receives reply
callbacks on `/c/<channel>/receive` and delivery notifications on `/c/<channel>/status` (JSON). README.md lists the
channel's keys and every difference from RapidPro's courier.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (sends and
callbacks), `_inbound` (reading callbacks), `_status` (Clickatell's status and error codes in smsgate's terms).
"""

from __future__ import annotations

from typing import Any

from smsgate import hookimpl

from ._adapter import ClickatellAdapter
from ._inbound import decode_text
from ._settings import ClickatellSettings
from ._status import ERRORS, STATUS_MAP, check_clickatell_response

__all__ = [
    "ERRORS",
    "STATUS_MAP",
    "ClickatellAdapter",
    "ClickatellSettings",
    "check_clickatell_response",
    "decode_text",
    "smsgate_register_adapters",
]


@hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `clickatell` adapter."""
    register(ClickatellAdapter)
