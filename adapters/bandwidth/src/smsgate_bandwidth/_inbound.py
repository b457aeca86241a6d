"""Reading Bandwidth's callbacks: a JSON array of events, each `{"type", "time", "to", "description",
"errorCode", "message": {...}}`, and the optional basic auth Bandwidth sends with them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from smsgate import InboundRequest, RequestRejected, same_secret

from ._settings import BandwidthSettings

__all__ = ["check_callback_auth", "events_of", "parse_time"]

# courier's layout: a literal Z, fractions of a second allowed; no offset, no space
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")


def check_callback_auth(req: InboundRequest, settings: BandwidthSettings) -> None:
    """Return if the channel has no callback credentials or the request carries them; otherwise 401."""
    if settings.callback_username is None or settings.callback_password is None:
        return
    given = req.basic_auth()
    if given is None:
        raise RequestRejected("authentication required: send the callback credentials as HTTP basic auth", 401)
    user_ok = same_secret(given[0], settings.callback_username)
    password_ok = same_secret(given[1], settings.callback_password.get_secret_value())
    if not (user_ok and password_ok):
        raise RequestRejected("invalid callback credentials in HTTP basic auth", 401)


def events_of(req: InboundRequest) -> list[dict[str, Any]]:
    """The callback's events, each with a `type` and a `message.id`; a 400 when the body is not such an array."""
    data = req.json()
    if not isinstance(data, list):
        raise RequestRejected("the body must be a JSON array of Bandwidth events")
    for index, event in enumerate(data):
        message = event.get("message") if isinstance(event, dict) else None
        event_type = event.get("type") if isinstance(event, dict) else None
        message_id = message.get("id") if isinstance(message, dict) else None
        missing = [name for name, value in (("type", event_type), ("message.id", message_id))
                   if not isinstance(value, str) or not value.strip()]
        if missing:
            raise RequestRejected(f"event {index}: " + "; ".join(f"field '{m}' required" for m in missing))
    return data


def parse_time(value: Any) -> datetime | None:
    """A Bandwidth `time` (`2016-09-14T18:20:16Z`, fractions of a second allowed), or None when it is not one."""
    if isinstance(value, str) and _TIME.fullmatch(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:  # the right shape, an impossible date (month 13)
            return None
    return None
