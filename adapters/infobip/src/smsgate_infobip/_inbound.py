"""Reading Infobip's webhooks: the `results` array both carry, an incoming SMS or MMS, and `receivedAt`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from smsgate import InboundRequest, RequestRejected, utcnow

__all__ = ["mms_content", "received_at", "results"]


def results(req: InboundRequest) -> list[dict[str, Any]]:
    """The webhook's `results` (one entry per message or report); a 400 when the body has none."""
    data = req.json()
    items = data.get("results") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise RequestRejected("request JSON doesn't match the webhook schema: 'results' (an array) required")
    return [item for item in items if isinstance(item, dict)]


def mms_content(segments: list[Any]) -> tuple[str, list[str]]:
    """An MMS's text (its text/plain segments' values, one per line) and attachments (`<contentType>:<url>`)."""
    texts: list[str] = []
    attachments: list[str] = []
    for segment in segments:
        if not isinstance(segment, dict):
            continue
        kind = str(segment.get("contentType") or "")
        if kind == "text/plain":
            texts.append(str(segment.get("value") or ""))
        elif segment.get("url"):
            attachments.append(f"{kind}:{segment['url']}" if kind else str(segment["url"]))
    return "\n".join(texts), attachments


def received_at(value: Any) -> datetime:
    """`receivedAt` (Infobip writes `2016-10-06T09:28:39.220+0000`; any ISO 8601 time with a zone is taken),
    the time of receipt when absent; a 400 when it is not a time."""
    if value in (None, ""):
        return utcnow()
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise RequestRejected(f"invalid receivedAt {str(value)[:40]!r}: expected yyyy-MM-dd'T'HH:mm:ss.SSS+hhmm")
    return parsed
