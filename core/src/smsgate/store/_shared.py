"""What both backends share: a message row read into a `MessageRecord`, and the listeners a commit wakes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .._json import loads_stored
from .._models import MessageRecord

__all__ = ["Listeners", "message_record"]

log = logging.getLogger("smsgate.store")


def _same(value: Any) -> Any:
    return value


def message_record(row: Any, when: Callable[[Any], str | None] = _same) -> MessageRecord:
    """A `messages` row as a record; `when` turns the backend's time values into ISO text (SQLite stores text)."""
    return MessageRecord(
        id=row["id"], channel=row["channel"], direction=row["direction"], to=row["to_addr"],
        from_=row["from_addr"], text=row["text"], status=row["status"],
        external_ids=loads_stored(row["external_ids"]) or ([row["external_id"]] if row["external_id"] else []),
        attachments=loads_stored(row["attachments"]), metadata=loads_stored(row["metadata"]),
        segments=row["segments"], attempts=row["attempts"], error_code=row["error_code"],
        error_reason=row["error_reason"], created_at=when(row["created_at"]) or "",
        updated_at=when(row["updated_at"]) or "", next_attempt_at=when(row["next_attempt_at"]),
        sending_at=when(row["sending_at"]), quick_replies=loads_stored(row["quick_replies"]),
        high_priority=bool(row["high_priority"]), **_routing(row))


def _routing(row: Any) -> dict[str, Any]:
    """A routed message's channels and tenant (absent from a file a read-only command opened before upgrading)."""
    try:
        route, tenant = row["route"], row["tenant"]
    except (IndexError, KeyError):
        return {}
    return {"route": loads_stored(route) if route else [], "tenant": tenant}


class Listeners:
    """Who hears of each commit's topics (`Store.subscribe`); one listener's failure never stops the others."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[str], None]] = []

    def __bool__(self) -> bool:
        return bool(self._listeners)

    def add(self, listener: Callable[[str], None]) -> None:
        """Call `listener(topic)` from now on."""
        self._listeners.append(listener)

    def signal(self, topic: str) -> None:
        """Tell every listener that rows of `topic` were committed."""
        for listener in self._listeners:
            try:
                listener(topic)
            except Exception:
                log.exception("a store listener failed")
