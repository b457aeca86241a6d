"""smsgate adapter `http`: any aggregator with an HTTP API, configured like RapidPro's "External API" channel.

Sending renders `send_url` and `body` templates per message part; receiving serves `receive`, `sent`,
`delivered`, `failed` and `stopped` at `/c/<channel>/<action>`. Wire behaviour follows courier's EX handler;
the README lists where and why smsgate differs.

The code lives in private modules, one concern each: `_settings` (the channel's keys), `_adapter` (sends and
routes), `_render` (templates and their escaping), `_inbound` (reading callbacks), `_xml` (safe XML and
XPaths), `_auth` (inbound credentials, masked send headers).
"""

from __future__ import annotations

from typing import Any

from smsgate import hookimpl

from ._adapter import HttpAdapter
from ._inbound import parse_rfc3339
from ._settings import HttpSettings

__all__ = ["HttpAdapter", "HttpSettings", "parse_rfc3339", "smsgate_register_adapters"]


@hookimpl
def smsgate_register_adapters(register: Any) -> None:
    """Register the `http` adapter."""
    register(HttpAdapter)
