"""smsgate adapter for Vonage's (Nexmo's) SMS API, as RapidPro's courier `NX` channel speaks it.

Sends with `POST {base_url}/sms/json` (a form with the key and secret, one request per part), takes
delivery receipts on `/c/<channel>/status` and incoming messages on `/c/<channel>/receive` (GET or POST, a
form or JSON), and checks Vonage's `sig` when the channel has a signature secret. README.md lists the keys and
every difference from courier.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (sends and
callbacks), `_status` (send statuses, receipt statuses and error codes), `_signature` (signed callbacks).
"""

from __future__ import annotations

from typing import Any

from smsgate import hookimpl

from ._adapter import VonageAdapter
from ._settings import SIGNATURE_METHODS, VonageSettings
from ._signature import check_signature, sign
from ._status import DLR_ERRORS, DLR_STATUS, SEND_STATUSES, check_vonage_response

__all__ = [
    "DLR_ERRORS",
    "DLR_STATUS",
    "SEND_STATUSES",
    "SIGNATURE_METHODS",
    "VonageAdapter",
    "VonageSettings",
    "check_signature",
    "check_vonage_response",
    "sign",
    "smsgate_register_adapters",
]


@hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `vonage` adapter."""
    register(VonageAdapter)
