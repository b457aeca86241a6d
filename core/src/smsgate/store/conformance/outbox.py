"""The platform outbox: events planned in the write's transaction, delivered in order per key, retried later,
leases that hold until released."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from ..._models import IncomingMessage, OutgoingMessage, SendResult, Status, StatusUpdate, utcnow
from .._protocol import Store
from ._base import PHONE, _plan_everything, run

__all__ = ["Outbox"]


class Outbox:
    """The platform outbox. Part of `StoreConformance`."""

    def test_events_are_planned_in_the_write_and_delivered_in_order(self, store_factory: Callable[[], Store]
                                                                    ) -> None:
        async def go() -> None:
            store = store_factory()
            woken: list[str] = []
            store.subscribe(woken.append)
            store.set_planner(_plan_everything)
            try:
                message_id = (await store.add_outgoing(OutgoingMessage("a", PHONE, "hi"), claim_for=60)).record.id
                await store.record_send(message_id, SendResult(Status.WIRED, ["e"]), None)
                await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, message_id)], None)
                assert "queued" in woken and "outbox" in woken
                statuses = []
                for _ in range(4):  # one per round: a key's later event never overtakes an earlier one
                    rows = await store.outbox_due(lease_seconds=60)
                    assert len(rows) <= 1
                    if not rows:
                        break
                    statuses.append(rows[0].payload["data"]["status"])
                    assert await store.outbox_due(lease_seconds=60) == []  # held by this dispatcher
                    await store.outbox_done(rows[0].id)
                assert statuses == ["queued", "wired", "delivered"]
                assert await store.outbox_items(pending=True) == []
                assert len(await store.outbox_items(pending=False)) == 3
            finally:
                await store.close()

        run(go())

    def test_a_failed_delivery_is_retried_later_and_claims_are_released(
            self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            store.set_planner(_plan_everything)
            try:
                await store.record_inbound("a", [IncomingMessage("a", PHONE, "x", external_id="o1")], None)
                (row,) = await store.outbox_due(lease_seconds=60)
                await store.outbox_retry(row.id, utcnow() + timedelta(hours=1), "HTTP 500")
                assert await store.outbox_due() == []
                (item,) = await store.outbox_items(pending=True)
                assert item["attempts"] == 1 and item["last_error"] == "HTTP 500"
                await store.record_inbound("a", [IncomingMessage("a", PHONE, "y", external_id="o2")], None)
                assert len(await store.outbox_due(lease_seconds=60)) == 1
                await store.outbox_release()  # a dispatcher starting after a crash: the dead one's claims end
                assert len(await store.outbox_due(lease_seconds=60)) == 1
            finally:
                await store.close()

        run(go())

    def test_a_renewed_outbox_lease_holds_until_the_item_is_released(self, store_factory: Callable[[], Store]
                                                                     ) -> None:
        async def go() -> None:
            store = store_factory()
            store.set_planner(_plan_everything)
            try:
                await store.record_inbound("a", [IncomingMessage("a", PHONE, "x", external_id="r1")], None)
                (row,) = await store.outbox_due(lease_seconds=0.3)
                await store.outbox_renew([row.id], 60)
                await asyncio.sleep(0.4)
                assert await store.outbox_due() == []  # the first lease lapsed, the renewed one holds
                await store.outbox_retry(row.id, utcnow() - timedelta(seconds=1), "HTTP 500")
                await store.outbox_renew([row.id], 60)  # released: a late renewal takes nothing back
                (again,) = await store.outbox_due(lease_seconds=60)
                await store.outbox_done(again.id)
                await store.outbox_renew([again.id], 60)  # delivered: stays done
                (item,) = await store.outbox_items()
                assert item["done_at"] is not None and item["lease_until"] is None
            finally:
                await store.close()

        run(go())
