"""A store workload for the query-plan tests of both backends (core/tests/test_query_plans*.py): skewed data as
a gateway that ran a while has (`fill`), then every read and write of the `Store` once (`workload`), the hot
ones marked with their names so each test can hold that statement to its index.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from smsgate import ChannelLog, IncomingMessage, OutgoingMessage, Redactor, SendResult, Status, StatusUpdate
from smsgate.host import utcnow
from smsgate.store import Limits, OutboxItem, Store

__all__ = ["PHONE", "TABLES", "fill", "workload"]

PHONE = "+250788383383"
TABLES = ("messages", "status_history", "channel_logs", "outbox", "external_ids", "opt_outs", "fragments",
          "console_revoked", "tenant_limits")


def _log(channel: str, kind: str, message_id: str | None = None, error: bool = False) -> ChannelLog:
    log = ChannelLog(channel=channel, kind=kind, redactor=Redactor(), message_id=message_id)
    if error:
        log.error("boom")
    return log


async def fill(store: Store, n: int) -> None:
    """Skewed data, as a gateway that ran a while has: mostly finished messages, a few pending, few errors."""
    for i in range(n):
        channel = "a" if i % 4 else "b"
        if i % 2:
            incoming = IncomingMessage(channel, PHONE, "hi", external_id=f"mo{i}")
            await store.record_inbound(channel, [incoming], _log(channel, "receive"))
            continue
        message_id = (await store.add_outgoing(OutgoingMessage(channel, PHONE, f"m{i}"), claim_for=60)).record.id
        failed = i % 50 == 0
        await store.record_send(message_id, SendResult(Status.FAILED if failed else Status.WIRED,
                                                       [] if failed else [f"x{i}"]),
                                _log(channel, "send", message_id, error=failed))
        if not failed:
            await store.record_inbound(channel, [StatusUpdate(channel, Status.DELIVERED, None, f"x{i}")], None)
    for i in range(5):
        await store.add_outgoing(OutgoingMessage("a", PHONE, f"pending {i}"))


async def workload(store: Store, marks: list[tuple[str, int]], statements: list[str]) -> None:
    """Every read and write of the store once, each hot one marked with its name and the statements' position."""

    def mark(name: str) -> None:
        marks.append((name, len(statements)))

    store.set_planner(lambda event: [OutboxItem("webhook:x", event.key, event.type, {"k": event.key})])
    mark("due")
    (due, *_) = await store.due("a", limit=10)
    mark("claim due")
    (taken, *_) = await store.claim_due("a", limit=1, lease_seconds=0.001)  # the worker's round
    mark("claim routed")
    await store.claim_due("b", limit=5, lease_seconds=60, routed=True)  # a down channel's routed messages
    mark("other")
    routed = await store.add_outgoing(OutgoingMessage("b", PHONE, "routed", route=["b", "a"], tenant="t"),
                                      claim_for=60, limits=Limits("t", tps=100, daily=1000))
    await store.reroute(routed.record.id, "a", PHONE, "", error_code="link_down", error_reason="down", log=None)
    await store.record_send(routed.record.id, SendResult(Status.WIRED, ["r-1"]), None)
    await asyncio.sleep(0.01)
    claimed = await store.claim(due.id, 60)
    assert claimed is not None and taken.id == due.id
    assert await store.mark_sending(due.id)
    await store.renew(due.id, 60)
    await store.record_send(due.id, SendResult(Status.ERRORED, error_code="x", error_reason="down"), None)
    await store.schedule_retry(due.id, utcnow() + timedelta(seconds=5))
    await store.fail_message(due.id, "gave_up", "no")
    added = await store.add_outgoing(OutgoingMessage("a", PHONE, "again"), claim_for=60)
    await store.record_send(added.record.id, SendResult(Status.WIRED, ["late-1"]), _log("a", "send"))
    await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, added.record.id),
                                     StatusUpdate("a", Status.SENT, None, "late-1"),
                                     StatusUpdate("a", Status.DELIVERED, None, "nobody"),
                                     IncomingMessage("a", PHONE, "dup", external_id="mo1")], _log("a", "status"))
    await store.known_inbound("a", ["mo1", "mo3"])
    await store.get_message(added.record.id)
    for name, filters in [("list", {}), ("list channel", {"channel": "a"}), ("list direction", {"direction": "in"}),
                          ("list status", {"status": "failed"}),
                          ("list channel direction", {"channel": "b", "direction": "out"}),
                          ("list channel status", {"channel": "b", "status": "delivered"})]:
        mark(name)
        page = await store.list_messages(limit=20, **filters)
    mark("page 2")
    page = await store.find_messages(limit=20)
    await store.find_messages(limit=20, cursor=page.next_cursor)
    mark("page status")
    page = await store.find_messages(limit=5, status="delivered")
    await store.find_messages(limit=5, status="delivered", cursor=page.next_cursor)
    mark("page direction")
    await store.find_messages(limit=5, direction="out")
    mark("page contact")
    await store.find_messages(limit=5, number=PHONE, text="hi")
    mark("page channels")
    page = await store.find_messages(limit=5, channels=["a", "b"])
    await store.find_messages(limit=5, channels=["a", "b"], cursor=page.next_cursor, status="delivered")
    mark("other")
    await store.find_messages(limit=5, channel="a", status="failed", text="m1")
    await store.hourly_counts(utcnow() - timedelta(hours=2), channel="a")
    await store.backlog()
    await store.last_errors(["a", "b"])
    await store.outbox_for(added.record.id)
    mark("logs errors")
    await store.list_logs(errors_only=True)
    mark("logs channel errors")
    await store.list_logs(channel="b", errors_only=True)
    mark("other")
    await store.list_logs(message_id=added.record.id)
    await store.list_logs(channel="a")
    mark("outbox due")
    rows = await store.outbox_due(limit=5)
    mark("other")
    await store.outbox_renew([rows[0].id, rows[1].id], 60)
    await store.outbox_done(rows[0].id)
    await store.outbox_retry(rows[1].id, utcnow(), "HTTP 500")
    mark("outbox pending")
    await store.outbox_items(pending=True)
    mark("other")
    await store.opt_outs(channel="a")
    await store.opt_outs()
    await store.lease("a:bind", "me", 30)
    await store.revoke_session("gone", utcnow() - timedelta(seconds=1))
    await store.revoke_session("sid-1", utcnow() + timedelta(hours=12))
    await store.session_revoked("sid-1")
    await store.release("a:bind", "me")
    await store.prune(utcnow() - timedelta(days=1))
    await store.prune_messages(utcnow() - timedelta(days=1))
