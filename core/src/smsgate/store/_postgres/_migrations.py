"""The PostgreSQL backend's schema migrations (the same `Migration` mechanism as SQLite's, in its own list).

Applied by `smsgate db upgrade` (or `PostgresStore(url, migrate=True)`) inside one transaction holding an
advisory lock, so two instances upgrading at once never both migrate: the second waits, then finds it done.
Times are `timestamptz` and leases are measured on the database's clock, so instances whose clocks differ
slightly still agree on when a claim expired. JSON columns are text, as in SQLite: stored as written.
"""

from __future__ import annotations

from .._migrations import Migration, statements

__all__ = ["MIGRATION_LOCK", "POSTGRES"]

MIGRATION_LOCK = 0x736D7367  # "smsg": the advisory lock key every migrating instance takes


_INITIAL = """
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    to_addr TEXT NOT NULL DEFAULT '',
    from_addr TEXT NOT NULL DEFAULT '',
    text TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    external_id TEXT,
    external_ids TEXT NOT NULL DEFAULT '[]',
    attachments TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    quick_replies TEXT NOT NULL DEFAULT '[]',
    high_priority BOOLEAN NOT NULL DEFAULT FALSE,
    segments INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_reason TEXT,
    lease_until TIMESTAMPTZ,
    lease_holder TEXT,
    next_attempt_at TIMESTAMPTZ,
    sending_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX messages_inbound_dedupe
    ON messages (channel, external_id) WHERE direction = 'in' AND external_id IS NOT NULL;
CREATE INDEX messages_by_channel ON messages (channel, created_at, seq);
CREATE INDEX messages_by_time ON messages (created_at, seq);
CREATE INDEX messages_pending ON messages (channel, created_at, seq)
    WHERE direction = 'out' AND status IN ('queued', 'errored');
CREATE TABLE external_ids (
    channel TEXT NOT NULL,
    external_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (channel, external_id)
);
CREATE TABLE status_history (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id TEXT,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    applied BOOLEAN NOT NULL,
    external_id TEXT,
    error_code TEXT,
    error_reason TEXT,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX history_by_message ON status_history (message_id, seq);
CREATE INDEX history_orphans ON status_history (channel, external_id) WHERE message_id IS NULL;
CREATE TABLE opt_outs (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    at TIMESTAMPTZ NOT NULL
);
CREATE TABLE channel_logs (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    message_id TEXT,
    is_error BOOLEAN NOT NULL,
    elapsed_ms DOUBLE PRECISION NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX logs_by_channel ON channel_logs (channel, seq);
CREATE INDEX logs_by_message ON channel_logs (message_id);
CREATE TABLE outbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    target TEXT NOT NULL,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    lease_until TIMESTAMPTZ,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    done_at TIMESTAMPTZ
);
CREATE INDEX outbox_open ON outbox (target, key, seq) WHERE done_at IS NULL;
CREATE INDEX outbox_pending ON outbox (seq) WHERE done_at IS NULL;
CREATE INDEX outbox_delivered ON outbox (seq) WHERE done_at IS NOT NULL;
CREATE TABLE rate_slots (
    key TEXT PRIMARY KEY,
    next_at TIMESTAMPTZ NOT NULL
)
"""

# What connection-oriented adapters need (SQLite's migration 3) and indexes that keep costs flat (SQLite's
# migrations 4 and 5): parts of inbound messages that arrive in pieces, joined once; named leases on the
# database's clock; a message's contact, a status or a direction (the console's pages and `smsgate messages`),
# the newest errors (of a channel or of all), a message's outbox items and a channel's opt-outs each found by
# an index. (The worker's due messages and the pending outbox have theirs since migration 1.)
_ADAPTERS_AND_CONSOLE = """
CREATE TABLE fragments (
    channel TEXT NOT NULL,
    key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    total INTEGER NOT NULL,
    data TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    joined_at TIMESTAMPTZ,
    PRIMARY KEY (channel, key, idx)
);
CREATE INDEX fragments_joined ON fragments (joined_at) WHERE joined_at IS NOT NULL;
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until TIMESTAMPTZ NOT NULL
);
CREATE INDEX messages_by_contact
    ON messages ((CASE direction WHEN 'in' THEN from_addr ELSE to_addr END), created_at, seq);
CREATE INDEX messages_by_status ON messages (status, created_at, seq);
CREATE INDEX messages_by_direction ON messages (direction, created_at, seq);
CREATE INDEX logs_errors ON channel_logs (channel, seq) WHERE is_error;
CREATE INDEX logs_errors_newest ON channel_logs (seq) WHERE is_error;
CREATE INDEX outbox_by_key ON outbox (key, seq);
CREATE INDEX opt_outs_by_channel ON opt_outs (channel, seq)
"""

# Routed messages keep their channels in failover order (`route`, JSON as every other list column) and who sent
# them (`tenant`); a tenant's limits are one row per tenant and kind, updated in the transaction that stores
# each of its messages (the row lock orders instances), on the database's clock.
_ROUTES_AND_TENANTS = """
ALTER TABLE messages ADD COLUMN route TEXT;
ALTER TABLE messages ADD COLUMN tenant TEXT;
CREATE TABLE tenant_limits (
    key TEXT PRIMARY KEY,
    day TEXT,
    used BIGINT NOT NULL DEFAULT 0,
    tat TIMESTAMPTZ
)
"""

POSTGRES: tuple[Migration, ...] = (
    Migration(1, "initial schema", statements(_INITIAL)),
    Migration(2, "fragments and leases (adapters with connections of their own); indexes for flat reads",
              statements(_ADAPTERS_AND_CONSOLE)),
    # signing out ends a console session on every instance: its id is kept until the session would have expired
    Migration(4, "console sessions that were signed out", statements("""
CREATE TABLE console_revoked (
    sid TEXT PRIMARY KEY,
    until TIMESTAMPTZ NOT NULL
);
CREATE INDEX console_revoked_until ON console_revoked (until)
""")),
    Migration(5, "routed messages and tenants: a message's channels in failover order, who sent it, its limits",
              statements(_ROUTES_AND_TENANTS)),
)
"""The PostgreSQL backend's migrations, oldest first."""
