"""The embedded store: one SQLite file in WAL mode, written by one thread with group commit.

Every write runs on the writer thread; concurrent writes are committed together in one transaction, each in
its own savepoint, and each caller's `await` returns only after its data is on disk. The platform events a
write makes are built (`smsgate._events`) and planned into the outbox inside that same transaction. Reads
(messages, logs, the outbox as listed) run on reader threads with connections of their own: in WAL mode a
read never waits for the writer and never holds it up, however long it takes.

Every hot query is answered from an index that fits it (`_migrations`, version 4; `core/tests/test_query_plans.py`
checks the plans with EXPLAIN QUERY PLAN, with and without statistics), and the writer runs `PRAGMA optimize`
hourly, so costs stay flat as the tables grow.

One class split by entity, as courier splits its backend: `_sends`, `_inbound`, `_outbox`, `_reads`, `_upkeep`,
`_sessions` (console sign-outs), over `_base` (threads, planner, listeners), `_connection` (the writer and
readers), `_rows` and `_statuses`.
"""

from ._connection import migrate
from ._inbound import _Inbound
from ._outbox import _Outbox
from ._reads import _Reads
from ._sends import _Sends
from ._sessions import _Sessions
from ._upkeep import _Upkeep

__all__ = ["SQLiteStore", "migrate"]


class SQLiteStore(_Sends, _Inbound, _Outbox, _Reads, _Upkeep, _Sessions):
    """The embedded store: one SQLite file in WAL mode with group commit, and reader threads."""
