"""Reading Africa's Talking's callbacks: the `date` of an incoming message."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from smsgate import RequestRejected

__all__ = ["parse_date"]

# the two forms Africa's Talking writes, UTC both: 2017-05-03T06:04:45Z and 2017-05-03 06:04:45 (a fraction of a
# second allowed in either)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z"
                   r"| (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?)", re.ASCII)


def parse_date(value: str) -> datetime:
    """An incoming message's `date`, in UTC; a 400 `invalid date format` for any other form."""
    m = _DATE.fullmatch(value.strip())
    if m is None:
        raise RequestRejected(f"invalid date format: {value[:40]}")
    year, month, day = (int(g) for g in m.group(1, 2, 3))
    hour, minute, second, fraction = m.group(4, 5, 6, 7) if m.group(4) else m.group(8, 9, 10, 11)
    try:
        return datetime(year, month, day, int(hour), int(minute), int(second),
                        int((fraction or "0").ljust(6, "0")[:6]), tzinfo=UTC)
    except ValueError:
        raise RequestRejected(f"invalid date format: {value[:40]}") from None
