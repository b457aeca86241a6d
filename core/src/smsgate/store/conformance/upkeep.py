"""Upkeep: retention deletes finished messages only; pruning deletes old logs and delivered outbox calls only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from ..._models import IncomingMessage, OutgoingMessage, SendResult, Status, StatusUpdate, utcnow
from .._protocol import Store
from ._base import PHONE, _log, _plan_everything, run

__all__ = ["Upkeep"]


class Upkeep:
    """Retention and pruning. Part of `StoreConformance`."""

    def test_retention_deletes_finished_messages_only(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                async def sent(status: Status, ext: str) -> str:
                    message_id = (await store.add_outgoing(OutgoingMessage("a", PHONE, ext), claim_for=60)).record.id
                    await store.record_send(message_id, SendResult(status, [ext] if status is Status.WIRED else []),
                                            _log("a", message_id=message_id))
                    return message_id

                old_wired = await sent(Status.WIRED, "old-1")
                old_delivered = await sent(Status.WIRED, "old-2")
                await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, None, "old-2")], None)
                old_failed = await sent(Status.FAILED, "old-3")
                old_errored = await sent(Status.ERRORED, "old-4")
                old_queued = (await store.add_outgoing(OutgoingMessage("a", PHONE, "waiting"))).record.id
                old_in = IncomingMessage("a", PHONE, "hi", external_id="o1")
                await store.record_inbound("a", [old_in], None)
                await asyncio.sleep(0.02)
                cutoff = utcnow()
                await asyncio.sleep(0.02)
                new_wired = await sent(Status.WIRED, "new-1")
                new_in = IncomingMessage("a", PHONE, "yo", external_id="n1")
                await store.record_inbound("a", [new_in], None)

                assert await store.prune_messages(cutoff) == 4  # wired, delivered, failed, received
                for gone in (old_wired, old_delivered, old_failed, old_in.id):
                    assert await store.get_message(gone) is None
                for kept in (old_errored, old_queued, new_wired, new_in.id):  # pending, or too recent
                    assert await store.get_message(kept) is not None
                # the aggregator's ids went with them: a late report is an orphan now, the recent one still lands
                (late,) = await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, None, "old-1")], None)
                assert late.change is not None and late.change.message_id is None
                (fresh,) = await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, None, "new-1")],
                                                      None)
                assert fresh.change is not None and fresh.change.message_id == new_wired
                # an inbound message deleted is a new one if the aggregator sends it again
                (again,) = await store.record_inbound("a", [IncomingMessage("a", PHONE, "hi", external_id="o1")],
                                                      None)
                assert again.created
                assert await store.prune_messages(cutoff) == 0
                assert len(await store.list_messages(limit=1000)) == 5
            finally:
                await store.close()

        run(go())

    def test_prune_deletes_old_logs_and_delivered_calls_only(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            store.set_planner(_plan_everything)
            try:
                await store.add_log(_log("a", "receive"))
                await store.record_inbound("a", [IncomingMessage("a", PHONE, "x", external_id="p1")], None)
                (row,) = await store.outbox_due(lease_seconds=60)
                await store.outbox_done(row.id)
                await store.record_inbound("a", [IncomingMessage("a", PHONE, "y", external_id="p2")], None)
                assert await store.prune(utcnow() - timedelta(days=1)) == 0  # nothing that old
                deleted = await store.prune(utcnow() + timedelta(seconds=1))
                assert deleted == 2  # the log and the delivered call; the pending call and the messages stay
                assert await store.list_logs() == [] and len(await store.outbox_items()) == 1
                assert len(await store.list_messages(direction="in")) == 2
            finally:
                await store.close()

        run(go())
