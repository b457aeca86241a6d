"""Which send's channel log is stored: every one with an error, and a configurable share of the others.

A successful send's log (the request and the answer, a few hundred bytes of JSON and four index entries) was
a sixth of the SQLite writer's work per message; operators read logs to see what went wrong, and
`[gateway] send_log_sample` (default 1: every log) lets a busy gateway keep only a sample of the rest.
"""

from __future__ import annotations

import random

from .._http._channellog import ChannelLog
from .._models import SendResult, Status

__all__ = ["kept_log"]

_SUCCESS = frozenset({Status.WIRED, Status.SENT, Status.DELIVERED, Status.READ})


def kept_log(log: ChannelLog, result: SendResult, share: float) -> ChannelLog | None:
    """`log` if it is to be stored: always when the send failed or logged an error, else with chance `share`."""
    if share >= 1.0 or log.errors or result.status not in _SUCCESS:
        return log
    return log if share > 0.0 and random.random() < share else None
