"""Reading Zenvia's webhooks: one JSON event per request (`MESSAGE` for an incoming message, `MESSAGE_STATUS`
for a status), their timestamps and contents, and the optional secret header their subscription sends."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from smsgate import InboundRequest, RequestRejected, same_secret

from ._settings import WEBHOOK_SECRET_HEADER, ZenviaSettings

__all__ = ["check_webhook_secret", "contents_of", "event_of", "parse_time"]

# courier's layout: a literal Z, fractions of a second allowed; no offset
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z")


def check_webhook_secret(req: InboundRequest, settings: ZenviaSettings) -> None:
    """Return if the channel has no webhook secret or the request carries it; otherwise 401."""
    if settings.webhook_secret is None:
        return
    given = req.headers.get(WEBHOOK_SECRET_HEADER.lower())
    if given is None:
        raise RequestRejected(f"authentication required: send the {WEBHOOK_SECRET_HEADER} header", 401)
    if not same_secret(given, settings.webhook_secret.get_secret_value()):
        raise RequestRejected(f"invalid {WEBHOOK_SECRET_HEADER} header", 401)


def event_of(req: InboundRequest, expected: str) -> dict[str, Any]:
    """The webhook's event object, whose `type` must be `expected`; a 400 otherwise."""
    data = req.json()
    if not isinstance(data, dict):
        raise RequestRejected("request JSON doesn't match required schema: the body must be an object")
    kind = data.get("type")
    if not isinstance(kind, str) or not kind.strip():
        raise RequestRejected("request JSON doesn't match required schema: field 'type' required")
    if kind.strip().upper() != expected:
        raise RequestRejected(f"unsupported event type: {kind.strip()[:40]}")
    return data


def parse_time(value: Any) -> datetime | None:
    """A Zenvia timestamp (`2017-05-03T03:04:45Z`, fractions of a second allowed), or None when it is not one."""
    if isinstance(value, str) and _TIME.fullmatch(value):
        try:
            return datetime.fromisoformat(value)
        except ValueError:  # the right shape, an impossible date (month 13)
            return None
    return None


def _coordinate(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def contents_of(contents: list[Any]) -> tuple[str, list[str], list[str]]:
    """An incoming message's (text, attachments, skipped content types): text contents joined by newlines, a file
    as its URL, a location as `geo:<latitude>,<longitude>`; other types are skipped and named."""
    texts: list[str] = []
    attachments: list[str] = []
    skipped: list[str] = []
    for content in contents:
        kind = str(content.get("type") or "").strip().lower() if isinstance(content, dict) else ""
        if kind == "text" and isinstance(content.get("text"), str):
            texts.append(content["text"])
        elif kind == "file" and isinstance(content.get("fileUrl"), str) and content["fileUrl"].strip():
            attachments.append(content["fileUrl"].strip())
        elif kind == "location" and (lat := _coordinate(content.get("latitude"))) is not None \
                and (lon := _coordinate(content.get("longitude"))) is not None:
            attachments.append(f"geo:{lat:.6f},{lon:.6f}")
        else:
            skipped.append(kind[:40] or "?")
    return "\n".join(texts), attachments, skipped
