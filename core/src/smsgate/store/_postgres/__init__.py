"""The PostgreSQL store: any number of `smsgate serve` instances sharing one database.

Each operation is one transaction on a pooled asyncpg connection; a caller's `await` returns after COMMIT
(PostgreSQL flushes concurrent commits together, so there is no writer thread to batch them here). What
must hold across instances is decided by the database, never by a read followed by a write:

- an inbound (channel, external id) is stored once by a unique index (`ON CONFLICT DO NOTHING`);
- a status moves only forward by a conditional UPDATE comparing ranks in SQL, so two instances applying
  reports of one message at once cannot both win or move it backwards;
- the send worker takes due messages with `FOR UPDATE SKIP LOCKED` and a lease on the database's clock, so
  each message has one sender at a time and a dead instance's messages return when its leases expire;
- the outbox hands out the head of each (target, key) queue the same way; prune runs under an advisory lock;
- wake-ups cross instances with LISTEN/NOTIFY, sent after the commit and coalesced (see `_woke`);
- a channel's `tps` is shared through one row per channel (`rate_slot`), on the database's clock.

Connection trouble raises `StoreUnavailable` (the app answers 503, aggregators retry); the pool reconnects
on its own when the database is back.

One class split by entity, as courier splits its backend: `_sends`, `_inbound`, `_outbox`, `_reads`, `_upkeep`,
`_sessions` (console sign-outs), over `_base` (pool, LISTEN/NOTIFY, planner), `_connection` (driver, errors,
migrations), `_rows` and `_statuses`.
"""

from ._connection import _require_driver, migrate_postgres, schema_versions
from ._inbound import _Inbound
from ._outbox import _Outbox
from ._reads import _Reads
from ._sends import _Sends
from ._sessions import _Sessions
from ._upkeep import _Upkeep

__all__ = ["PostgresStore", "_require_driver", "migrate_postgres", "schema_versions"]


class PostgresStore(_Sends, _Inbound, _Outbox, _Reads, _Upkeep, _Sessions):
    """The shared store: PostgreSQL through an asyncpg pool, for one or many `smsgate serve` instances.

The pool opens on first use, in the event loop that uses it. `migrate=True` applies missing migrations
then (what tests and `smsgate db upgrade` do); otherwise a database whose schema is behind this smsgate
refuses every operation with `StoreUnavailable` naming `smsgate db upgrade`."""
