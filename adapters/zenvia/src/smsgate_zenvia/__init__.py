"""smsgate adapter for Zenvia's API v2, SMS channel.

Sends with `POST {base_url}/v2/channels/sms/messages` (one request per message, each part one text content),
takes incoming messages (`MESSAGE` events) on `/c/<channel>/receive` and message statuses (`MESSAGE_STATUS`) on
`/c/<channel>/status`, from the webhook subscriptions of the account. README.md lists the channel's keys and every
difference from RapidPro's courier.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (sends and
webhooks), `_status` (Zenvia's status codes and send answers in smsgate's terms), `_inbound` (reading webhook
events, their timestamps and contents, and their secret header).
"""

from __future__ import annotations

from typing import Any

from smsgate import hookimpl

from ._adapter import ZenviaAdapter
from ._settings import ZenviaSettings
from ._status import STATUS_MAP, check_zenvia_response

__all__ = [
    "STATUS_MAP",
    "ZenviaAdapter",
    "ZenviaSettings",
    "check_zenvia_response",
    "smsgate_register_adapters",
]


@hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `zenvia` adapter."""
    register(ZenviaAdapter)
