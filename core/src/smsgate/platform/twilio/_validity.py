"""ValidityPeriod: a message still queued when its validity runs out is not sent, as Twilio drops it (30036).

A `smsgate_before_send` hook (registered once per process by the gateway when `[twilio_api]` is configured):
the send worker calls it just before each attempt, and its veto fails the message with `EXPIRED_REASON`.
"""

from __future__ import annotations

from datetime import datetime

from ..._models import OutgoingMessage, utcnow
from ...config._settings import Channel
from ...hookspecs import hookimpl
from ._wire import EXPIRED_REASON

__all__ = ["PLUGIN_NAME", "ValidityPeriod"]

PLUGIN_NAME = "smsgate-twilio-validity"


class ValidityPeriod:
    """Vetoes the send of a message whose `metadata.twilio.expires` has passed."""

    @hookimpl
    def smsgate_before_send(self, message: OutgoingMessage, channel: Channel) -> str | None:
        """The veto of an expired message, else None."""
        meta = message.metadata.get("twilio") if isinstance(message.metadata, dict) else None
        expires = meta.get("expires") if isinstance(meta, dict) else None
        if not isinstance(expires, str):
            return None
        try:
            ran_out = datetime.fromisoformat(expires) <= utcnow()
        except ValueError:
            return None
        return f"{EXPIRED_REASON} (it expired at {expires})" if ran_out else None
