"""smsgate adapter for Twilio's Messages API and every aggregator that copies it (SignalWire, ...).

Sends with `POST {base_url}/2010-04-01/Accounts/{sid}/Messages.json`, receives TwiML-style webhooks on
`/c/<channel>/receive` and status callbacks on `/c/<channel>/status`, and checks `X-Twilio-Signature` on
both. Wire behaviour follows RapidPro's courier `twiml` handler; README.md lists where and why we differ.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (sends and
webhooks), `_signature` (X-Twilio-Signature), `_status` (Twilio's statuses and error codes), `_inbound`
(webhook bodies and TwiML replies).
"""

from __future__ import annotations

from typing import Any

from smsgate import hookimpl

from ._adapter import TwilioAdapter
from ._inbound import EMPTY_TWIML, decode_possible_base64
from ._settings import TwilioSettings
from ._signature import compute_signature, signature_is_valid
from ._status import STATUS_MAP

__all__ = [
    "EMPTY_TWIML",
    "STATUS_MAP",
    "TwilioAdapter",
    "TwilioSettings",
    "compute_signature",
    "decode_possible_base64",
    "signature_is_valid",
    "smsgate_register_adapters",
]


@hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `twilio` adapter."""
    register(TwilioAdapter)
