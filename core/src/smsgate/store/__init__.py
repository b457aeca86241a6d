"""Storage: the `Store` protocol every backend implements, the records it answers with, and the backends.

    Store            the seam (protocol): outgoing messages and sends, inbound events, logs, the outbox
    SQLiteStore      the embedded default: one file, one writer thread, group commit
    conformance      the tests a backend must pass (pytest; see its docstring)

A status never moves backwards (`_rules`), schema changes are versioned migrations (`_migrations`), and what
the platform hears about each write is decided once, in `smsgate._events`.
"""

from ._protocol import Store
from ._records import (
    Added,
    Backlog,
    Fragment,
    FragmentJoin,
    HourCount,
    InboundOutcome,
    MessagePage,
    OutboxItem,
    OutboxPlanner,
    OutboxRow,
    StatusChange,
)
from ._sqlite import SQLiteStore
from ._wakeup import Wakeup

__all__ = [
    "Added",
    "Backlog",
    "Fragment",
    "FragmentJoin",
    "HourCount",
    "InboundOutcome",
    "MessagePage",
    "OutboxItem",
    "OutboxPlanner",
    "OutboxRow",
    "SQLiteStore",
    "StatusChange",
    "Store",
    "Wakeup",
]
