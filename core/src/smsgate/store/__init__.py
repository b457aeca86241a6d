"""Storage: the `Store` protocol every backend implements, the records it answers with, and the backends.

    Store            the seam (protocol): outgoing messages and sends, inbound events, logs, the outbox
    SQLiteStore      the embedded default: one file, one writer thread, group commit
    PostgresStore    many instances on one PostgreSQL database (asyncpg; the `postgresql` extra)
    open_store       the backend a `[gateway] database` value names
    conformance      the tests a backend must pass (pytest; see its docstring)

A status never moves backwards (`_rules`), schema changes are versioned migrations (`_migrations`), and what
the platform hears about each write is decided once, in `smsgate._events`.
"""

from ._copy import CopyError, copy_database
from ._open import (
    describe,
    is_postgres,
    open_store,
    schema_status,
    sqlite_path,
    upgrade_database,
    url_password,
    validate_database,
)
from ._postgres import PostgresStore
from ._presence import PRESENCE_PREFIX, PRESENCE_TTL, Presence
from ._protocol import Reads, SessionRevocations, Store
from ._records import (
    Added,
    Backlog,
    Fragment,
    FragmentJoin,
    HourCount,
    InboundOutcome,
    Limits,
    MessagePage,
    OutboxItem,
    OutboxPlanner,
    OutboxRow,
    StatusChange,
)
from ._retention import Retention
from ._sqlite import SQLiteStore
from ._wakeup import Notifier, Wakeup, WakeupLoop, backoff

__all__ = [
    "Added",
    "Backlog",
    "CopyError",
    "Fragment",
    "FragmentJoin",
    "HourCount",
    "InboundOutcome",
    "Limits",
    "MessagePage",
    "Notifier",
    "OutboxItem",
    "OutboxPlanner",
    "OutboxRow",
    "PRESENCE_PREFIX",
    "PRESENCE_TTL",
    "PostgresStore",
    "Presence",
    "Reads",
    "Retention",
    "SQLiteStore",
    "SessionRevocations",
    "StatusChange",
    "Store",
    "Wakeup",
    "WakeupLoop",
    "backoff",
    "copy_database",
    "describe",
    "is_postgres",
    "open_store",
    "schema_status",
    "sqlite_path",
    "upgrade_database",
    "url_password",
    "validate_database",
]
