"""smsgate adapter for Bandwidth Messaging v2.

Sends with `POST {base_url}/messages` (one request per part), receives incoming messages on
`/c/<channel>/receive` and delivery reports on `/c/<channel>/status`. README.md lists the channel's keys and
every difference from RapidPro's courier.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (sends and
callbacks), `_status` (the aggregator's statuses and error codes in smsgate's terms).
"""

from __future__ import annotations

from typing import Any

from smsgate import hookimpl

from ._adapter import BandwidthAdapter
from ._settings import BandwidthSettings
from ._status import ERRORS, STATUS_MAP, check_bandwidth_response

__all__ = [
    "ERRORS",
    "STATUS_MAP",
    "BandwidthAdapter",
    "BandwidthSettings",
    "check_bandwidth_response",
    "smsgate_register_adapters",
]


@hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `bandwidth` adapter."""
    register(BandwidthAdapter)
