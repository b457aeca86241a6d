"""smsgate adapter for Infobip's SMS API (v3) and MMS API (v2), as RapidPro's courier `IB` channel speaks it.

Sends with `POST {base_url}/sms/3/messages` (or `/mms/2/messages` for a message with attachments), asks for
delivery reports on `/c/<channel>/delivered` and takes incoming messages on `/c/<channel>/receive`, both as
Infobip's JSON webhooks. README.md lists the keys and every difference from courier.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (sends and
callbacks), `_status` (message statuses and error answers), `_inbound` (reading the webhooks).
"""

from __future__ import annotations

from typing import Any

from smsgate import hookimpl

from ._adapter import InfobipAdapter
from ._inbound import mms_content, received_at
from ._settings import InfobipSettings
from ._status import REFUSALS, REPORT_GROUPS, check_infobip_response, report_status

__all__ = [
    "REFUSALS",
    "REPORT_GROUPS",
    "InfobipAdapter",
    "InfobipSettings",
    "check_infobip_response",
    "mms_content",
    "received_at",
    "report_status",
    "smsgate_register_adapters",
]


@hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `infobip` adapter."""
    register(InfobipAdapter)
