"""The SQLite backend's schema migrations, oldest first (applied on open, under BEGIN IMMEDIATE)."""

from __future__ import annotations

from typing import Any

from .._migrations import Migration, statements

__all__ = ["SQLITE"]


_INITIAL = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
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
    segments INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    error_reason TEXT,
    lease_until TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_inbound_dedupe
    ON messages (channel, external_id) WHERE direction = 'in' AND external_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_by_channel ON messages (channel, created_at);
CREATE INDEX IF NOT EXISTS messages_pending ON messages (status) WHERE status IN ('queued', 'errored');
CREATE TABLE IF NOT EXISTS external_ids (
    channel TEXT NOT NULL,
    external_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (channel, external_id)
);
CREATE TABLE IF NOT EXISTS status_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    applied INTEGER NOT NULL,
    external_id TEXT,
    error_code TEXT,
    error_reason TEXT,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_message ON status_history (message_id, seq);
CREATE INDEX IF NOT EXISTS history_orphans ON status_history (channel, external_id) WHERE message_id IS NULL;
CREATE TABLE IF NOT EXISTS opt_outs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    address TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS channel_logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,
    message_id TEXT,
    is_error INTEGER NOT NULL,
    elapsed_ms REAL NOT NULL,
    created_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_channel ON channel_logs (channel, seq);
CREATE INDEX IF NOT EXISTS logs_by_message ON channel_logs (message_id);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    target TEXT NOT NULL,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    lease_until TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    done_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_open ON outbox (target, key, seq) WHERE done_at IS NULL;
"""

# Columns the first, unversioned releases added in place; a file they created may lack any of them.
_ADDED_COLUMNS = [
    ("messages", "next_attempt_at", "TEXT"),  # the worker's backoff: not retried before this time
    ("messages", "sending_at", "TEXT"),  # a request of the current claim went out; cleared with its outcome
    ("messages", "quick_replies", "TEXT NOT NULL DEFAULT '[]'"),  # a retry from the store must send them too
    ("messages", "high_priority", "INTEGER NOT NULL DEFAULT 0"),
]


def _add_missing_columns(conn: Any) -> None:
    for table, column, kind in _ADDED_COLUMNS:
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _fail_read_timeouts(conn: Any) -> None:
    # Releases before 2 left a direct send (`smsgate send`) that timed out after its request `errored`, and the
    # worker failed it later by its error code. The gateway now fails it at once and the worker no longer reads
    # codes: such rows are failed here instead, so no worker ever resends them.
    reason = ("no answer after the request was sent, so the aggregator may have the message; not retried "
              "automatically to avoid a duplicate SMS (set retry_on_timeout = true on the channel to retry)")
    rows = conn.execute("SELECT id, channel FROM messages WHERE direction = 'out' AND status = 'errored'"
                        " AND error_code = 'read_timeout'").fetchall()
    for message_id, channel in rows:
        conn.execute("UPDATE messages SET status = 'failed', error_reason = ?, lease_until = NULL WHERE id = ?",
                     (reason, message_id))
        conn.execute("INSERT INTO status_history (message_id, channel, status, applied, error_code, error_reason, at)"
                     " VALUES (?, ?, 'failed', 1, 'read_timeout', ?, strftime('%Y-%m-%dT%H:%M:%f000+00:00'))",
                     (message_id, channel, reason))


SQLITE: tuple[Migration, ...] = (
    Migration(1, "initial schema (and the columns unversioned releases added)", statements(_INITIAL),
              _add_missing_columns),
    Migration(2, "fail direct sends left errored after a read timeout", step=_fail_read_timeouts),
    Migration(3, "fragments of inbound messages that arrive in parts, and named leases", statements("""
CREATE TABLE fragments (
    channel TEXT NOT NULL,
    key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    total INTEGER NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    joined_at TEXT,
    PRIMARY KEY (channel, key, idx)
);
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until TEXT NOT NULL
)""")),
    # for the operator's reads (find_messages, hourly_counts, last_errors, outbox_for): each keeps a console
    # page or a lookup off a full scan on a million messages
    Migration(4, "indexes for the console's reads", statements("""
        CREATE INDEX IF NOT EXISTS messages_by_created ON messages (created_at);
        CREATE INDEX IF NOT EXISTS messages_by_contact
            ON messages ((CASE direction WHEN 'in' THEN from_addr ELSE to_addr END), created_at);
        CREATE INDEX IF NOT EXISTS logs_errors ON channel_logs (channel, seq) WHERE is_error = 1;
        CREATE INDEX IF NOT EXISTS outbox_by_key ON outbox (key);
    """)),
    # The send worker's due() walked its channel's whole history through messages_by_channel (SQLite prefers
    # it, with or without statistics; due() names messages_due), listings by direction or status and every
    # `logs --errors` across channels scanned, and the dispatcher's outbox_due read delivered rows too.
    Migration(5, "indexes that fit the worker's, the listings' and the outbox's queries, so their cost stays flat",
              statements("""
CREATE INDEX messages_due ON messages (channel, created_at) WHERE direction = 'out' AND status IN ('queued', 'errored');
DROP INDEX messages_pending;
CREATE INDEX messages_by_direction ON messages (direction, created_at);
CREATE INDEX messages_by_status ON messages (status, created_at);
CREATE INDEX logs_errors_newest ON channel_logs (seq) WHERE is_error = 1;
CREATE INDEX outbox_pending ON outbox (seq) WHERE done_at IS NULL;
CREATE INDEX opt_outs_by_channel ON opt_outs (channel, seq)
""")),
    # Signing out ends a console session everywhere: its id is kept here until the session would have expired,
    # and every instance refuses it (the cookie alone is signed, not stored).
    Migration(7, "console sessions that were signed out", statements("""
CREATE TABLE console_revoked (
    sid TEXT PRIMARY KEY,
    until TEXT NOT NULL
);
CREATE INDEX console_revoked_until ON console_revoked (until)
""")),
    Migration(8, "routed messages (their channels in failover order) and tenants: who sent a message, its limits",
              statements("""
ALTER TABLE messages ADD COLUMN route TEXT;
ALTER TABLE messages ADD COLUMN tenant TEXT;
CREATE TABLE tenant_limits (
    key TEXT PRIMARY KEY,
    day TEXT,
    used INTEGER NOT NULL DEFAULT 0,
    tat REAL
)""")),
)
"""The SQLite backend's migrations, oldest first."""
