"""smsgate adapter for SMSC connections (SMPP, UCP/EMI, CIMD2...) behind a Kannel gateway.

Sends with one `GET <send_url>` (smsbox's `/cgi-bin/sendsms`) per message, receives mobile-originated messages
on `/c/<channel>/receive` (Kannel's sms-service get-url) and delivery reports on `/c/<channel>/status` (the
`dlr-url` each send carries). Wire behaviour follows RapidPro's courier `kannel` handler; README.md lists where
and why we differ. `smsgate kannel-config --channel NAME` prints the kannel.conf groups an operator needs.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (sendsms and
the routes), `_status` (DLR types and sendsms answers), `_inbound` (an MO's raw bytes and their text), `_conf`
(the `kannel-config` command).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smsgate import Adapter, hookimpl
from smsgate.hookspecs import CommandContext

from ._adapter import KannelAdapter
from ._conf import GET_URL_QUERY, kannel_config_text
from ._inbound import decode_text
from ._settings import KannelSettings
from ._status import DLR_STATUS

__all__ = [
    "DLR_STATUS",
    "GET_URL_QUERY",
    "KannelAdapter",
    "KannelSettings",
    "decode_text",
    "kannel_config_text",
    "smsgate_register_adapters",
    "smsgate_register_commands",
]


@hookimpl
def smsgate_register_adapters(register: Callable[[type[Adapter[Any]]], None]) -> None:
    """Provide the `kannel` adapter."""
    register(KannelAdapter)


@hookimpl
def smsgate_register_commands(app: Any, context: CommandContext) -> None:
    """Add `smsgate kannel-config` to the CLI."""
    from ._conf import register_command

    register_command(app, context)
