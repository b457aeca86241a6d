"""What connection-oriented adapters (SMPP) rely on: parts kept durably and joined once, known inbound ids, leases
with one holder, receipts per part, and the races of two stores over each of these."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..._models import IncomingMessage, OutgoingMessage, SendResult, Status, StatusUpdate
from .._protocol import Store
from .._records import Fragment
from ._base import PHONE, _plan_everything, run

__all__ = ["Parts"]


class Parts:
    """Parts, known ids, leases, receipts per part; alone and raced by two stores. Part of `StoreConformance`."""

    def test_parts_are_kept_durably_and_joined_once(self, store_factory: Callable[[], Store]) -> None:
        def join(parts: list[Fragment]) -> list[IncomingMessage]:
            text = "".join(p.data["text"] for p in parts)
            return [IncomingMessage("a", PHONE, text, external_id=f"joined-{parts[0].key}")]

        async def first_part() -> None:
            store = store_factory()
            try:
                new, outcomes = await store.add_fragment("a", Fragment("k1", 1, 2, {"text": "Hel"}), join, None)
                assert new and outcomes == []
            finally:
                await store.close()

        run(first_part())  # then the process dies: the part must still be there

        async def rest() -> None:
            store = store_factory()
            try:
                new, outcomes = await store.add_fragment("a", Fragment("k1", 2, 2, {"text": "lo"}), join, None)
                assert new and [o.event.text for o in outcomes if isinstance(o.event, IncomingMessage)] == ["Hello"]
                assert outcomes[0].platform_events
                again, none = await store.add_fragment("a", Fragment("k1", 2, 2, {"text": "lo"}), join, None)
                assert not again and none == []  # a redelivered part, even after the join
                assert [m.text for m in await store.list_messages(direction="in")] == ["Hello"]
                assert await store.known_inbound("a", ["joined-k1", "nope"]) == {"joined-k1"}
                assert await store.known_inbound("b", ["joined-k1"]) == set()
            finally:
                await store.close()

        run(rest())

    def test_a_lease_has_one_holder_until_it_lapses(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                assert await store.lease("sm:bind:1", "host-a", 0.2)
                assert not await store.lease("sm:bind:1", "host-b", 60)
                assert await store.lease("sm:bind:1", "host-a", 0.2)  # renewed by its holder
                await asyncio.sleep(0.3)
                assert await store.lease("sm:bind:1", "host-b", 60)  # lapsed: another may take it
                await store.release("sm:bind:1", "host-a")  # not the holder: nothing happens
                assert not await store.lease("sm:bind:1", "host-a", 60)
                await store.release("sm:bind:1", "host-b")
                assert await store.lease("sm:bind:1", "host-a", 60)
            finally:
                await store.close()

        run(go())

    def test_an_inbound_external_id_is_stored_once_across_stores(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            stores = [store_factory(), store_factory()]
            try:
                events = [IncomingMessage("a", PHONE, "x", external_id=f"mo-{i % 20}") for i in range(80)]
                results = await asyncio.gather(*(stores[i % 2].record_inbound("a", [event], None)
                                                 for i, event in enumerate(events)))
                assert sum(o.created for result in results for o in result) == 20
                stored = {m.id for m in await stores[0].list_messages(limit=1000)}
                assert len(stored) == 20 and {e.id for e in events} == stored
                # every duplicate answered with the id its first delivery was stored under
                by_ext: dict[str, set[str]] = {}
                for event in events:
                    by_ext.setdefault(str(event.external_id), set()).add(event.id)
                assert all(len(ids) == 1 for ids in by_ext.values())
            finally:
                for store in stores:
                    await store.close()

        run(go())

    def test_reports_raced_by_two_stores_never_move_backwards(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            stores = [store_factory(), store_factory()]
            try:
                message_id = (await stores[0].add_outgoing(OutgoingMessage("a", PHONE, "x"),
                                                           claim_for=60)).record.id
                await stores[0].record_send(message_id, SendResult(Status.WIRED, ["e1"]), None)
                reports = [Status.SENT, Status.DELIVERED, Status.SENT, Status.DELIVERED] * 10
                results = await asyncio.gather(*(
                    stores[i % 2].record_inbound("a", [StatusUpdate("a", status, message_id)], None)
                    for i, status in enumerate(reports)))
                applied = [o.change.current for r in results for o in r if o.change is not None and o.change.applied]
                assert applied.count(Status.DELIVERED) == 1 and applied.count(Status.SENT) <= 1
                stored = await stores[1].get_message(message_id)
                assert stored is not None and stored.status == "delivered"
                moves = [h["status"] for h in stored.history if h["applied"]]
                assert moves in (["queued", "wired", "delivered"], ["queued", "wired", "sent", "delivered"])
                assert [h["status"] for h in stored.history].count("delivered") == 1  # replays recorded once
            finally:
                for store in stores:
                    await store.close()

        run(go())

    def test_two_stores_never_hold_one_outbox_item_at_once(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            stores = [store_factory(), store_factory()]
            stores[0].set_planner(_plan_everything)
            try:
                for i in range(30):
                    await stores[0].record_inbound("a", [IncomingMessage("a", PHONE, "x", external_id=f"k{i}")],
                                                   None)
                first, second = await asyncio.gather(*(s.outbox_due(limit=20, lease_seconds=60) for s in stores))
                assert not {r.id for r in first} & {r.id for r in second}
                assert len(first) + len(second) == min(30, 40)
            finally:
                for store in stores:
                    await store.close()

        run(go())

    def test_receipts_of_parts_raced_by_two_stores_deliver_the_message(self, store_factory: Callable[[], Store]
                                                                       ) -> None:
        async def go() -> None:
            stores = [store_factory(), store_factory()]
            try:
                ids = []
                for n in range(5):
                    parts = [f"m{n}-p{i}" for i in range(4)]
                    added = await stores[0].add_outgoing(OutgoingMessage("a", PHONE, "long"), claim_for=60)
                    await stores[0].record_send(added.record.id, SendResult(Status.WIRED, parts, 4), None)
                    ids.append(added.record.id)
                    # every part's receipt at once, spread over both stores (two instances)
                    await asyncio.gather(*(stores[i % 2].record_inbound(
                        "a", [StatusUpdate("a", Status.DELIVERED, None, part)], None) for i, part in enumerate(parts)))
                for message_id in ids:
                    stored = await stores[1].get_message(message_id)
                    assert stored is not None and stored.status == "delivered", stored
            finally:
                for store in stores:
                    await store.close()

        run(go())

    def test_a_receipt_racing_its_send_answer_on_another_store_is_applied(self, store_factory: Callable[[], Store]
                                                                          ) -> None:
        async def go() -> None:
            stores = [store_factory(), store_factory()]
            try:
                for n in range(10):
                    added = await stores[0].add_outgoing(OutgoingMessage("a", PHONE, "fast"), claim_for=60)
                    # the answer recorded by one instance while the receipt arrives at the other
                    await asyncio.gather(
                        stores[0].record_send(added.record.id, SendResult(Status.WIRED, [f"race-{n}"]), None),
                        stores[1].record_inbound("a", [StatusUpdate("a", Status.DELIVERED, None, f"race-{n}")], None))
                    stored = await stores[1].get_message(added.record.id)
                    assert stored is not None and stored.status == "delivered", (n, stored)
            finally:
                for store in stores:
                    await store.close()

        run(go())

    def test_the_last_parts_raced_by_two_stores_are_joined_once(self, store_factory: Callable[[], Store]) -> None:
        def join(parts: list[Fragment]) -> list[IncomingMessage]:
            text = "".join(p.data["text"] for p in parts)
            return [IncomingMessage("a", PHONE, text, external_id=f"joined-{parts[0].key}")]

        async def go() -> None:
            stores = [store_factory(), store_factory()]
            try:
                for n in range(5):
                    results = await asyncio.gather(*(stores[i % 2].add_fragment(
                        "a", Fragment(f"k{n}", i + 1, 3, {"text": "abc"[i]}), join, None) for i in range(3)))
                    assert all(new for new, _ in results)
                    joined = [o.event.text for _, outcomes in results for o in outcomes
                              if o.created and isinstance(o.event, IncomingMessage)]
                    assert joined == ["abc"], (n, joined)
                assert len(await stores[0].list_messages(direction="in")) == 5
            finally:
                for store in stores:
                    await store.close()

        run(go())

    def test_a_message_sent_in_parts_is_delivered_when_every_part_is(self, store_factory: Callable[[], Store]
                                                                     ) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                message_id = (await store.add_outgoing(OutgoingMessage("a", PHONE, "long"), claim_for=60)).record.id
                await store.record_send(message_id, SendResult(Status.WIRED, ["p1", "p2"], 2), None)
                (one,) = await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, None, "p1")], None)
                assert one.change is not None and one.change.current is Status.SENT
                (two,) = await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, None, "p2")], None)
                assert two.change is not None and two.change.current is Status.DELIVERED
            finally:
                await store.close()

        run(go())

    def test_a_receipt_that_overtook_the_send_answer_is_applied_with_it(self, store_factory: Callable[[], Store]
                                                                        ) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                message_id = (await store.add_outgoing(OutgoingMessage("a", PHONE, "fast"), claim_for=60)).record.id
                await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, None, "early-1")], None)
                await store.record_inbound("b", [StatusUpdate("b", Status.FAILED, None, "early-1")], None)
                change = await store.record_send(message_id, SendResult(Status.WIRED, ["early-1"]), None)
                assert [e.current for e in change.platform_events] == [Status.WIRED, Status.DELIVERED]
                stored = await store.get_message(message_id)
                assert stored is not None and stored.status == "delivered"  # channel b's report stays b's orphan
            finally:
                await store.close()

        run(go())
