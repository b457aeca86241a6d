"""Outgoing messages and their statuses: stored once by id, claimed by one sender, outcomes and backoff, a status that
never moves backwards, lookups within the channel, orphan reports."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from ..._events import STATUS_CHANGED
from ..._models import IncomingMessage, OutgoingMessage, SendResult, Status, StatusUpdate, utcnow
from .._protocol import Store
from ._base import PHONE, _log, _plan_everything, run

__all__ = ["Sends"]


class Sends:
    """Outgoing messages and their statuses. Part of `StoreConformance`."""

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

    def test_many_messages_are_queued_in_one_write(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                known = (await store.add_outgoing(OutgoingMessage("a", PHONE, "known"))).record.id
                batch = [OutgoingMessage("a", PHONE, "one", metadata={"n": 1}),
                         OutgoingMessage("a", PHONE, "again", id=known),
                         OutgoingMessage("b", PHONE, "two", attachments=["image/png:https://x.test/a.png"])]
                batch.append(OutgoingMessage("b", PHONE, "twice in one batch", id=batch[2].id))
                added = await store.add_outgoing_many(batch)
                assert [(a.created, a.claimed) for a in added] == [(True, False), (False, False), (True, False),
                                                                    (False, False)]
                assert added[1].record.text == "known" and added[3].record.text == "two"
                assert [len(a.platform_events) for a in added] == [1, 0, 1, 0]
                stored = await store.get_message(batch[0].id)
                assert stored is not None and stored.status == "queued" and stored.metadata == {"n": 1}
                assert [h["status"] for h in stored.history] == ["queued"]
                assert [m.id for m in await store.claim_due("b")] == [batch[2].id]
                assert await store.add_outgoing_many([]) == []
            finally:
                await store.close()

        run(go())

    def test_outcomes_and_marks_made_together_answer_each_alone(self, store_factory: Callable[[], Store]) -> None:
        # a window's sends mark and store their outcomes in the same loop tick: the store may write them in one
        # batch, but each caller hears its own answer, and one bad outcome never undoes its neighbours
        async def go() -> None:
            store = store_factory()
            try:
                ids = [(await store.add_outgoing(OutgoingMessage("a", PHONE, f"m{i}"), claim_for=60)).record.id
                       for i in range(3)]
                unclaimed = (await store.add_outgoing(OutgoingMessage("a", PHONE, "not claimed"))).record.id
                marks = await asyncio.gather(*(store.mark_sending(i) for i in [*ids, unclaimed]))
                assert list(marks) == [True, True, True, False]
                results = await asyncio.gather(
                    store.record_send(ids[0], SendResult(Status.WIRED, external_ids=["e-0"]),
                                      _log("a", message_id=ids[0])),
                    store.record_send("00000000-0000-4000-8000-00000000dead", SendResult(Status.WIRED), None),
                    store.record_send(ids[1], SendResult(Status.ERRORED, error_code="500"), None),
                    store.record_send(ids[2], SendResult(Status.WIRED, external_ids=["e-2"]), None),
                    return_exceptions=True)
                assert isinstance(results[1], KeyError)
                changes = [r for i, r in enumerate(results) if i != 1]
                assert [(c.previous, c.current, c.applied) for c in changes] == [  # type: ignore[union-attr]
                    (Status.QUEUED, Status.WIRED, True), (Status.QUEUED, Status.ERRORED, True),
                    (Status.QUEUED, Status.WIRED, True)]
                stored = [await store.get_message(i) for i in ids]
                assert [m.status for m in stored if m] == ["wired", "errored", "wired"]
                assert [m.external_ids for m in stored if m] == [["e-0"], [], ["e-2"]]
                assert [m.sending_at for m in stored if m] == [None, None, None]  # the claims are released
            finally:
                await store.close()

        run(go())

    def test_a_windows_outcomes_stored_together_are_each_complete(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            store.set_planner(_plan_everything)
            try:
                ids = [(await store.add_outgoing(OutgoingMessage("a", PHONE, f"m{i}", metadata={"i": i}),
                                                 claim_for=60)).record.id for i in range(4)]
                results = [SendResult(Status.WIRED, external_ids=[f"w-{i}", f"w-{i}b"], segments=2) for i in range(3)]
                results.append(SendResult(Status.FAILED, error_code="88", error_reason="refused"))
                changes = await asyncio.gather(*(store.record_send(i, r, _log("a", message_id=i))
                                                 for i, r in zip(ids, results, strict=True)))
                assert [(c.previous, c.current, c.applied) for c in changes] == [
                    (Status.QUEUED, Status.WIRED, True)] * 3 + [(Status.QUEUED, Status.FAILED, True)]
                assert all(c.record is not None and c.record.id == i for c, i in zip(changes, ids, strict=True))
                assert [[h["status"] for h in c.record.history] for c in changes if c.record] == [
                    ["queued", "wired"]] * 3 + [["queued", "failed"]]
                assert [len(c.platform_events) for c in changes] == [1, 1, 1, 1]
                assert changes[0].platform_events[0].data["metadata"] == {"i": 0}
                stored = await store.get_message(ids[3])
                assert stored is not None and stored.error_code == "88" and stored.sending_at is None
                # a receipt naming a part's external id finds its message
                (outcome,) = await store.record_inbound(
                    "a", [StatusUpdate("a", Status.DELIVERED, external_id="w-1b")], None)
                assert outcome.change is not None and outcome.change.message_id == ids[1]
                assert len(await store.list_logs(channel="a")) == 4
                pending = [row for row in await store.outbox_items() if row["key"] in ids]
                assert len(pending) == 4 + 4 + 1  # queued, the outcome, and the receipt's move to sent
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
