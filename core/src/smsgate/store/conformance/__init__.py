"""The tests every `Store` backend passes: subclass `StoreConformance` and give it a `store_factory` fixture.

    from smsgate.store.conformance import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        def store_factory(self, tmp_path):
            return lambda: MyStore(tmp_path / "db")   # each call opens the SAME database anew

Each test runs its own event loop (no async pytest plugin needed). They pin what the gateway relies on: a
write is visible once its coroutine returns and survives reopening; an id or an inbound (channel, external id)
is stored once; a status never moves backwards and a replay is recorded once; every lookup of an inbound
event stays within its channel; platform events are planned into the outbox in the write's transaction and
delivered in order per key; claims, leases and backoff keep a message with one sender at a time; the
operators' reads (message pages by cursor, per-hour counts, backlog, last errors, a message's outbox) find
every match once, newest first. The `...across_stores` tests open the database twice at once, as two
instances of `smsgate serve` do: a claim, an inbound external id, a status move and an outbox item are
each won by one of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from .._events import STATUS_CHANGED, PlatformEvent
from .._http._channellog import ChannelLog, Redactor
from .._models import (
    IncomingMessage,
    OptOut,
    OutgoingMessage,
    SendResult,
    Status,
    StatusUpdate,
    new_id,
    utcnow,
)
from ._protocol import Store
from ._records import Fragment, OutboxItem

__all__ = ["StoreConformance"]

T = TypeVar("T")
PHONE = "+250788383383"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one test's coroutine on a loop of its own."""
    return asyncio.run(coro)


def _log(channel: str, kind: str = "send", message_id: str | None = None) -> ChannelLog:
    return ChannelLog(channel=channel, kind=kind, redactor=Redactor(), message_id=message_id)


def _plan_everything(event: PlatformEvent) -> list[OutboxItem]:
    return [OutboxItem("webhook:test", event.key, event.type, {"type": event.type, "data": event.data})]


class StoreConformance:
    """What every backend must do; `store_factory` (a fixture) returns a callable opening the same database."""

    @pytest.fixture
    def store_factory(self) -> Callable[[], Store]:
        """Override: a callable that opens (again) one database of the backend under test."""
        raise NotImplementedError("a StoreConformance subclass provides the store_factory fixture")

    # -- outgoing messages ----------------------------------------------------------------------------

    def test_an_outgoing_message_is_stored_once_and_queued(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                message = OutgoingMessage("a", PHONE, "hello", metadata={"order": 1}, quick_replies=["yes"])
                first = await store.add_outgoing(message)
                again = await store.add_outgoing(OutgoingMessage("a", PHONE, "other text", id=message.id))
                assert first.created and not again.created and not first.claimed
                assert again.record.text == "hello" and first.record.status == "queued"
                assert [e.type for e in first.platform_events] == [STATUS_CHANGED] and not again.platform_events
                stored = await store.get_message(message.id)
                assert stored is not None and stored.metadata == {"order": 1} and stored.quick_replies == ["yes"]
                assert [h["status"] for h in stored.history] == ["queued"]
            finally:
                await store.close()

        run(go())

    def test_writes_survive_reopening(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> str:
            store = store_factory()
            try:
                added = await store.add_outgoing(OutgoingMessage("a", PHONE, "durable"))
                await store.record_inbound("a", [IncomingMessage("a", PHONE, "in", external_id="x1")], None)
                return added.record.id
            finally:
                await store.close()

        message_id = run(go())

        async def reopen() -> None:
            store = store_factory()
            try:
                assert (await store.get_message(message_id)) is not None
                assert len(await store.list_messages(direction="in")) == 1
            finally:
                await store.close()

        run(reopen())

    def test_claims_keep_a_message_with_one_sender(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                added = await store.add_outgoing(OutgoingMessage("a", PHONE, "hi"), claim_for=60)
                assert added.claimed and added.record.attempts == 1
                assert await store.claim(added.record.id, 60) is None  # held
                assert await store.renew(added.record.id, 60)
                other = (await store.add_outgoing(OutgoingMessage("a", PHONE, "lapsed"))).record
                assert (await store.claim(other.id, 0.05)) is not None
                await asyncio.sleep(0.1)
                again = await store.claim(other.id, 60)  # its lease lapsed: another worker may take it
                assert again is not None and again.attempts == 2
            finally:
                await store.close()

        run(go())

    def test_a_send_outcome_is_stored_with_its_external_ids(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                added = await store.add_outgoing(OutgoingMessage("a", PHONE, "hi"), claim_for=60)
                message_id = added.record.id
                assert await store.mark_sending(message_id)  # claimed: its request may go out
                change = await store.record_send(message_id, SendResult(Status.WIRED, ["ext-1", "ext-2"], 2),
                                                 _log("a", message_id=message_id))
                assert not await store.mark_sending(message_id)  # sent: no claim, no request
                assert change.applied and change.previous is Status.QUEUED and change.current is Status.WIRED
                assert [e.type for e in change.platform_events] == [STATUS_CHANGED]
                stored = await store.get_message(message_id)
                assert stored is not None and stored.status == "wired" and stored.external_ids == ["ext-1", "ext-2"]
                assert stored.segments == 2 and stored.sending_at is None
                assert await store.claim(message_id, 60) is None  # wired: never sent again
                # a delivery report naming the aggregator's id finds it, on its own channel
                (outcome,) = await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, None, "ext-2")],
                                                        None)
                assert outcome.change is not None and outcome.change.message_id == message_id
                assert [log["kind"] for log in await store.list_logs(message_id=message_id)] == ["send"]
            finally:
                await store.close()

        run(go())

    def test_due_backoff_failure_and_doubt(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                first = (await store.add_outgoing(OutgoingMessage("a", PHONE, "1"))).record
                second = (await store.add_outgoing(OutgoingMessage("a", PHONE, "2"))).record
                await store.add_outgoing(OutgoingMessage("b", PHONE, "elsewhere"))
                assert [m.id for m in await store.due("a")] == [first.id, second.id]  # oldest first, one channel
                await store.claim(first.id, 60)
                await store.record_send(first.id, SendResult(Status.ERRORED, error_code="x", error_reason="down"),
                                        None)
                await store.schedule_retry(first.id, utcnow() + timedelta(hours=1))
                assert [m.id for m in await store.due("a")] == [second.id]  # backing off
                await store.claim(second.id, 0.01)
                await store.mark_sending(second.id)
                await asyncio.sleep(0.05)
                in_doubt = await store.get_message(second.id)
                assert in_doubt is not None and in_doubt.sending_at is not None
                await store.clear_in_doubt(second.id)
                cleared = await store.get_message(second.id)
                assert cleared is not None and cleared.sending_at is None
                change = await store.fail_message(first.id, "gave_up", "no luck")
                assert change.applied and change.current is Status.FAILED and change.platform_events
                assert not (await store.fail_message(first.id, "gave_up", "twice")).applied
            finally:
                await store.close()

        run(go())

    # -- statuses -------------------------------------------------------------------------------------

    def test_a_status_never_moves_backwards_and_a_replay_is_recorded_once(
            self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                message_id = (await store.add_outgoing(OutgoingMessage("a", PHONE, "hi"), claim_for=60)).record.id
                await store.record_send(message_id, SendResult(Status.WIRED, ["e1"]), None)
                reports = [Status.DELIVERED, Status.SENT, Status.DELIVERED, Status.FAILED, Status.SENT]
                applied = []
                for status in reports:
                    (outcome,) = await store.record_inbound("a", [StatusUpdate("a", status, message_id)], None)
                    assert outcome.change is not None
                    applied.append(outcome.change.applied)
                assert applied == [True, False, False, False, False]
                stored = await store.get_message(message_id)
                assert stored is not None and stored.status == "delivered"
                # the late `sent` is history (applied no), its replay and the delivered replay are not
                assert [(h["status"], h["applied"]) for h in stored.history] == [
                    ("queued", True), ("wired", True), ("delivered", True), ("sent", False), ("failed", False)]
            finally:
                await store.close()

        run(go())

    def test_lookups_stay_within_the_channel(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                message_id = (await store.add_outgoing(OutgoingMessage("a", PHONE, "hi"), claim_for=60)).record.id
                await store.record_send(message_id, SendResult(Status.WIRED, ["shared-ext"]), None)
                log = _log("b", "status")
                by_id, by_ext = await store.record_inbound(
                    "b", [StatusUpdate("b", Status.DELIVERED, message_id),
                          StatusUpdate("b", Status.DELIVERED, None, "shared-ext")], log)
                for outcome in (by_id, by_ext):
                    assert outcome.change is not None and outcome.change.message_id is None
                    assert not outcome.change.applied and not outcome.platform_events
                stored = await store.get_message(message_id)
                assert stored is not None and stored.status == "wired"
                assert log.errors and all("names no message of channel 'b'" in e for e in log.errors)
                # inbound dedupe is per channel too: the same aggregator id on two channels is two messages
                await store.record_inbound("a", [IncomingMessage("a", PHONE, "x", external_id="mo-1")], None)
                await store.record_inbound("b", [IncomingMessage("b", PHONE, "x", external_id="mo-1")], None)
                assert len(await store.list_messages(direction="in")) == 2
            finally:
                await store.close()

        run(go())

    def test_an_orphan_report_is_kept_once(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                for _ in range(3):
                    (outcome,) = await store.record_inbound(
                        "a", [StatusUpdate("a", Status.DELIVERED, None, "nobody-knows")], None)
                    assert outcome.change is not None and not outcome.change.applied
                    assert not outcome.created
            finally:
                await store.close()

        run(go())

    # -- inbound --------------------------------------------------------------------------------------

    def test_an_inbound_message_is_stored_once(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                first = IncomingMessage("a", PHONE, "hello", external_id="mo-7", raw={"k": "v"})
                (stored,) = await store.record_inbound("a", [first], _log("a", "receive"))
                retried = IncomingMessage("a", PHONE, "hello", external_id="mo-7")
                (again,) = await store.record_inbound("a", [retried], None)
                assert stored.created and not again.created and retried.id == first.id
                assert len(stored.platform_events) == 1 and not again.platform_events
                (listed,) = await store.list_messages(direction="in")
                assert listed.id == first.id and listed.status == "received" and listed.external_ids == ["mo-7"]
                assert [log["message_id"] for log in await store.list_logs(channel="a")] == [first.id]
                await store.record_inbound("a", [OptOut("a", PHONE, reason="STOP")], None)
                assert [(o["address"], o["reason"]) for o in await store.opt_outs(channel="a")] == [(PHONE, "STOP")]
            finally:
                await store.close()

        run(go())

    def test_many_concurrent_writes_are_each_durable_once(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                messages = [IncomingMessage("a", PHONE, str(i), external_id=f"c{i % 50}") for i in range(200)]
                results = await asyncio.gather(*(store.record_inbound("a", [m], None) for m in messages))
                created = sum(outcome.created for result in results for outcome in result)
                assert created == 50 and len(await store.list_messages(direction="in", limit=1000)) == 50
            finally:
                await store.close()

        run(go())

    # -- the outbox -----------------------------------------------------------------------------------

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

    # -- reads and upkeep -----------------------------------------------------------------------------

    def test_listing_filters_newest_first(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                ids = [(await store.add_outgoing(OutgoingMessage(c, PHONE, t))).record.id
                       for c, t in (("a", "1"), ("b", "2"), ("a", "3"))]
                assert [m.id for m in await store.list_messages()] == ids[::-1]
                assert [m.text for m in await store.list_messages(channel="a")] == ["3", "1"]
                assert [m.text for m in await store.list_messages(status="queued", limit=1)] == ["3"]
                assert await store.list_messages(direction="in") == []
                assert await store.get_message(new_id()) is None
            finally:
                await store.close()

        run(go())

    def test_messages_stored_while_paging_never_shift_a_later_page(self, store_factory: Callable[[], Store]
                                                                   ) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                ids = [(await store.add_outgoing(OutgoingMessage("a", PHONE, f"m{i}"))).record.id for i in range(7)]
                first = await store.find_messages(limit=3)
                assert [m.id for m in first.messages] == ids[:3:-1] and first.next_cursor is not None
                newer = (await store.add_outgoing(OutgoingMessage("a", PHONE, "newer"))).record.id
                second = await store.find_messages(limit=3, cursor=first.next_cursor)
                third = await store.find_messages(limit=3, cursor=second.next_cursor)
                assert [m.id for m in second.messages + third.messages] == ids[3::-1]  # keyset, not an offset
                assert third.next_cursor is None
                assert [m.id for m in (await store.find_messages(limit=1)).messages] == [newer]
            finally:
                await store.close()

        run(go())

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

    # -- several instances on one database ------------------------------------------------------------

    def test_claim_due_gives_each_message_to_one_of_two_stores(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            first, second = store_factory(), store_factory()
            try:
                ids = [(await first.add_outgoing(OutgoingMessage("a", PHONE, str(i)))).record.id for i in range(40)]
                taken: list[list[str]] = [[], []]

                async def take(store: Store, mine: list[str]) -> None:
                    while True:
                        got = await store.claim_due("a", limit=3, lease_seconds=60)
                        if not got:
                            return
                        assert all(r.attempts == 1 for r in got)
                        mine.extend(r.id for r in got)

                await asyncio.gather(take(first, taken[0]), take(second, taken[1]))
                assert sorted(taken[0] + taken[1]) == sorted(ids)  # every message claimed, none twice
                assert await first.claim_due("a", limit=100) == []
            finally:
                await first.close()
                await second.close()

        run(go())

    def test_a_held_message_is_failed_by_its_holder_only(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                message_id = (await store.add_outgoing(OutgoingMessage("a", PHONE, "x"))).record.id
                (claimed,) = await store.claim_due("a", limit=5, lease_seconds=60)
                assert claimed.id == message_id and claimed.attempts == 1
                assert not (await store.fail_message(message_id, "in_doubt", "someone holds it")).applied
                change = await store.fail_message(message_id, "in_doubt", "not attempted", held=True)
                assert change.applied and change.current is Status.FAILED
                stored = await store.get_message(message_id)
                assert stored is not None and stored.attempts == 0  # the claim made no attempt
                assert await store.ping()
            finally:
                await store.close()

        run(go())

    # -- connection-oriented adapters: parts, known ids, leases, receipts per part --------------------------

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

    # -- reads for operators (the console, /metrics) --------------------------------------------------------

    def test_message_pages_walk_every_match_once_newest_first(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                made: list[tuple[str, str, str, str, str]] = []  # (id, channel, direction, contact, text)
                for i in range(14):
                    channel, contact = "ab"[i % 2], f"+25078838{i % 3:04d}"
                    text = f"note {i}" + (" Needle" if i in (3, 11) else "")
                    if i % 3 == 0:
                        incoming = IncomingMessage(channel, contact, text, external_id=f"mo-{i}")
                        await store.record_inbound(channel, [incoming], None)
                        made.append((incoming.id, channel, "in", contact, text))
                    else:
                        added = await store.add_outgoing(OutgoingMessage(channel, contact, text))
                        made.append((added.record.id, channel, "out", contact, text))
                newest_first = [m[0] for m in reversed(made)]

                async def walk(**filters: Any) -> list[str]:
                    found, cursor = [], None
                    for _ in range(100):
                        page = await store.find_messages(cursor=cursor, limit=3, **filters)
                        assert len(page.messages) <= 3
                        found += [m.id for m in page.messages]
                        if page.next_cursor is None:
                            return found
                        cursor = page.next_cursor
                    raise AssertionError("the cursors never ended")

                assert await walk() == newest_first
                checks: list[tuple[dict[str, Any], Callable[[tuple[str, str, str, str, str]], bool]]] = [
                    ({"channel": "a"}, lambda m: m[1] == "a"),
                    ({"direction": "in"}, lambda m: m[2] == "in"),
                    ({"status": "queued"}, lambda m: m[2] == "out"),
                    ({"number": "+250788380001"}, lambda m: m[3] == "+250788380001"),
                    ({"text": "needle"}, lambda m: "Needle" in m[4]),
                    ({"channel": "b", "number": "+250788380000", "direction": "in"},
                        lambda m: (m[1], m[3], m[2]) == ("b", "+250788380000", "in"))]
                for filters, keep in checks:
                    assert await walk(**filters) == [m[0] for m in reversed(made) if keep(m)], filters
                with pytest.raises(ValueError):
                    await store.find_messages(cursor="not a cursor of this store")
            finally:
                await store.close()

        run(go())

    def test_hourly_counts_backlog_errors_and_outbox_by_message(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            store.set_planner(_plan_everything)
            try:
                since = utcnow() - timedelta(minutes=5)
                waiting = (await store.add_outgoing(OutgoingMessage("a", PHONE, "waits"))).record
                sent = (await store.add_outgoing(OutgoingMessage("b", PHONE, "goes"), claim_for=60)).record
                await store.record_send(sent.id, SendResult(Status.WIRED, ["x-1"]), None)
                await store.record_inbound("b", [IncomingMessage("b", PHONE, "hi", external_id="mo-1")], None)
                failing = _log("a", message_id=waiting.id)
                failing.error("first failure")
                await store.add_log(failing)
                newest = _log("a")
                newest.error("newest failure")
                await store.add_log(newest)
                await store.add_log(_log("a"))  # a later log without errors is not an error
                counts = await store.hourly_counts(since)
                got = {(c.channel, c.direction, c.status): c.count for c in counts}
                assert got == {("a", "out", "queued"): 1, ("b", "out", "wired"): 1, ("b", "in", "received"): 1}
                assert {c.hour for c in counts} <= {utcnow().strftime("%Y-%m-%dT%H"),
                                                    since.strftime("%Y-%m-%dT%H")}
                assert [c.channel for c in await store.hourly_counts(since, channel="b")] == ["b", "b"]
                assert await store.hourly_counts(utcnow() + timedelta(minutes=1)) == []
                backlog = await store.backlog()
                assert set(backlog.queued) == {"a"} and backlog.queued["a"][0] == 1
                assert backlog.outbox == 4 and backlog.outbox_oldest is not None  # queued x2, wired, received
                errors = await store.last_errors(["a", "b"])
                assert set(errors) == {"a"} and errors["a"]["errors"] == ["newest failure"]
                items = await store.outbox_for(sent.id)
                assert [i["payload"]["data"]["status"] for i in items] == ["queued", "wired"]
                newest_items = await store.outbox_items(limit=2, newest_first=True)
                assert len(newest_items) == 2 and newest_items[0]["seq"] > newest_items[1]["seq"]
            finally:
                await store.close()

        run(go())
