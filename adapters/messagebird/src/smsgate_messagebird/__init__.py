"""smsgate adapter for MessageBird's (Bird's) REST API, `rest.messagebird.com`.

Sends with `POST {base_url}/messages` (or `/mms` with media), receives incoming messages on `/c/<channel>/receive`
and status reports on `/c/<channel>/status`, and checks `MessageBird-Signature-JWT` on both. README.md lists the
channel's keys and every difference from RapidPro's courier.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (sends and
callbacks), `_inbound` (reading callbacks), `_signature` (MessageBird-Signature-JWT), `_status` (MessageBird's
statuses and error codes in smsgate's terms).
"""

from __future__ import annotations

from typing import Any

from smsgate import hookimpl

from ._adapter import MessagebirdAdapter
from ._settings import MessagebirdSettings
from ._signature import check_request, verify
from ._status import ERROR_REASONS, STATUS_MAP, check_messagebird_response

__all__ = [
    "ERROR_REASONS",
    "STATUS_MAP",
    "MessagebirdAdapter",
    "MessagebirdSettings",
    "check_messagebird_response",
    "check_request",
    "smsgate_register_adapters",
    "verify",
]


@hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `messagebird` adapter."""
    register(MessagebirdAdapter)
