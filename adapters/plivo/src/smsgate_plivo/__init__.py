"""smsgate adapter for Plivo's Message API.

Sends with `POST {base_url}/v1/Account/{auth_id}/Message/` (one request per part), receives incoming messages on
`/c/<channel>/receive` and status reports on `/c/<channel>/status`, and checks Plivo's `X-Plivo-Signature-V2` on
both. README.md lists the channel's keys and every difference from RapidPro's courier.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (sends and
callbacks), `_inbound` (reading callbacks, splitting texts), `_signature` (X-Plivo-Signature-V2), `_status`
(Plivo's statuses and error codes in smsgate's terms).
"""

from __future__ import annotations

from typing import Any

from smsgate import hookimpl

from ._adapter import PlivoAdapter
from ._inbound import split_text
from ._settings import PlivoSettings
from ._signature import check_request, signature_v2
from ._status import ERROR_REASONS, STATUS_MAP, check_plivo_response

__all__ = [
    "ERROR_REASONS",
    "STATUS_MAP",
    "PlivoAdapter",
    "PlivoSettings",
    "check_plivo_response",
    "check_request",
    "signature_v2",
    "smsgate_register_adapters",
    "split_text",
]


@hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `plivo` adapter."""
    register(PlivoAdapter)
