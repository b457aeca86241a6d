"""smsgate adapter for Bandwidth Messaging API v2.

Sends with `POST {base_url}/api/v2/users/{account_id}/messages` (one request per part, smsgate's message id as
`tag`), takes incoming messages on `/c/<channel>/receive` and message events (delivery reports) on
`/c/<channel>/status`, both JSON arrays of events. README.md lists the channel's keys and every difference from
RapidPro's courier.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (sends and
callbacks), `_status` (Bandwidth's event types, delivery error codes and send answers in smsgate's terms),
`_inbound` (reading callback arrays, their times and their basic auth).
"""

from __future__ import annotations

from typing import Any

from smsgate import hookimpl

from ._adapter import BandwidthAdapter
from ._settings import BandwidthSettings
from ._status import DELIVERY_ERRORS, EVENT_STATUS, check_bandwidth_response

__all__ = [
    "DELIVERY_ERRORS",
    "EVENT_STATUS",
    "BandwidthAdapter",
    "BandwidthSettings",
    "check_bandwidth_response",
    "smsgate_register_adapters",
]


@hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `bandwidth` adapter."""
    register(BandwidthAdapter)
