"""A tenant's limits as both backends apply them: `tps` as a cell rate (GCRA), `daily_limit` per UTC day.

The `tps` limit keeps one "theoretical arrival time" per tenant: each message pushes it 1/tps later, and a
message is refused while it lies more than a burst's worth (one second of messages) ahead of now. So a tenant
may send a second's worth at once, then tps on average, and a refusal says exactly when the next one fits.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from ..errors import LimitReached
from ._records import Limits

__all__ = ["burst_seconds", "day_ends", "tps_refusal"]


def burst_seconds(limits: Limits) -> float:
    """How far ahead of now the tenant's arrival time may run: (a second's worth of messages - 1) / tps."""
    assert limits.tps is not None
    return (max(1, math.ceil(limits.tps)) - 1) / limits.tps


def tps_refusal(limits: Limits, ahead: float) -> None:
    """LimitReached when the tenant's arrival time is `ahead` seconds after now, more than a burst allows."""
    assert limits.tps is not None
    over = ahead - burst_seconds(limits)
    if over > 1e-9:
        raise LimitReached(f"tenant {limits.tenant!r} may queue {limits.tps:g} message(s) per second: "
                           f"retry in {over:.2f} s", over)


def day_ends(limits: Limits, day: str, now: datetime) -> LimitReached:
    """The refusal once the tenant's `daily_limit` is used up on UTC day `day`: retry at the next midnight."""
    midnight = datetime.fromisoformat(day).replace(tzinfo=now.tzinfo) + timedelta(days=1)
    return LimitReached(f"tenant {limits.tenant!r} reached its daily_limit of {limits.daily} message(s) for "
                        f"{day} (UTC); it resets at midnight UTC", (midnight - now).total_seconds())
