"""smsgate adapter for Africa's Talking's SMS API, as RapidPro's courier `AT` channel speaks it.

Sends with `POST {base_url}/version1/messaging` (a form, the API key in the `apiKey` header, one request per
part), takes incoming messages on `/c/<channel>/receive` (or `callback`), delivery reports on
`/c/<channel>/status` (or `delivery`) and bulk-SMS opt-outs on `/c/<channel>/optout`. README.md lists the keys
and every difference from courier.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (sends and
callbacks), `_status` (send answers and report statuses), `_inbound` (reading an incoming message's date).
"""

from __future__ import annotations

from typing import Any

from smsgate import hookimpl

from ._adapter import AfricastalkingAdapter
from ._inbound import parse_date
from ._settings import AfricastalkingSettings
from ._status import RECIPIENT_ERRORS, REPORT_STATUS, check_africastalking_response

__all__ = [
    "RECIPIENT_ERRORS",
    "REPORT_STATUS",
    "AfricastalkingAdapter",
    "AfricastalkingSettings",
    "check_africastalking_response",
    "parse_date",
    "smsgate_register_adapters",
]


@hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `africastalking` adapter."""
    register(AfricastalkingAdapter)
