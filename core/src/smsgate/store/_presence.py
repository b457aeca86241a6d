"""Presence: while `smsgate serve` runs it holds a lease in its database, so tools can tell the database is in use.

Each instance keeps lease `serve:<its id>` for `ttl` seconds and renews it every third of that; a clean stop
gives it up, a crash lets it lapse within `ttl`. `smsgate db copy` refuses a source with a live one.
"""

from __future__ import annotations

import contextlib

from .._models import new_id
from ._protocol import Store
from ._wakeup import WakeupLoop

__all__ = ["PRESENCE_PREFIX", "PRESENCE_TTL", "Presence"]

PRESENCE_PREFIX = "serve:"
"""The names of the leases running gateways hold (`serve:<instance id>`)."""

PRESENCE_TTL = 30.0
"""Seconds a gateway's presence lasts unrenewed: how long after a crash a database still counts as in use."""


class Presence(WakeupLoop):
    """Holds this instance's presence lease while it runs (`smsgate serve` starts one)."""

    name = "presence"

    def __init__(self, store: Store, *, ttl: float = PRESENCE_TTL) -> None:
        super().__init__(store, None, ttl / 3)
        self.store, self.ttl = store, ttl
        self.holder = new_id()
        self.lease_name = PRESENCE_PREFIX + self.holder

    async def round(self) -> int:
        """Renew the lease; 0 so that the loop waits a third of `ttl` before the next renewal."""
        await self.store.lease(self.lease_name, self.holder, self.ttl)
        return 0

    async def stop(self) -> None:
        """Stop renewing and give the lease up, so the database is free at once."""
        await super().stop()
        with contextlib.suppress(Exception):  # an unreachable database lets the lease lapse instead
            await self.store.release(self.lease_name, self.holder)
