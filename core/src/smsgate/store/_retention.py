"""Retention: a background task that deletes, at most hourly, what the retention settings no longer keep."""

from __future__ import annotations

from datetime import timedelta

from .._models import utcnow
from ..config import GatewaySettings
from ._protocol import Store
from ._wakeup import WakeupLoop

__all__ = ["Retention"]


class Retention(WakeupLoop):
    """Deletes channel logs and delivered outbox items older than `retention_days`, and finished messages older
    than `message_retention_days` (0 keeps them), once an hour; `smsgate serve` runs one per instance (the
    store's deletes are idempotent and, on PostgreSQL, taken under an advisory lock)."""

    name = "retention"

    def __init__(self, store: Store, *, retention_days: float = 30.0, message_retention_days: float = 0.0,
                 interval: float = 3600.0) -> None:
        super().__init__(store, None, interval)
        self.store = store
        self.retention_days = retention_days
        self.message_retention_days = message_retention_days

    @classmethod
    def from_settings(cls, store: Store, settings: GatewaySettings) -> Retention:
        """The retention `[gateway]` asks for."""
        return cls(store, retention_days=settings.retention_days,
                   message_retention_days=settings.message_retention_days)

    async def round(self) -> int:
        """Prune once now; 0 so that the loop waits `interval` before the next round."""
        await self.prune()
        return 0

    async def prune(self) -> int:
        """Delete what the settings no longer keep; the number of rows deleted."""
        deleted = 0
        if self.retention_days:
            deleted = await self.store.prune(utcnow() - timedelta(days=self.retention_days))
            if deleted:
                self.log.info("deleted %d channel logs and delivered outbox items older than %g days", deleted,
                              self.retention_days)
        if self.message_retention_days:
            messages = await self.store.prune_messages(utcnow() - timedelta(days=self.message_retention_days))
            if messages:
                self.log.info("deleted %d finished messages older than %g days", messages,
                              self.message_retention_days)
            deleted += messages
        return deleted
