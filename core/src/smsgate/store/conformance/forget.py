"""Forgetting one message on request: a redaction blanks a finished message's text and its channel logs; a deletion
removes a finished message and every trace that names it; neither touches a message the worker may still send.
And a time-bounded listing (`cursor_before`) starts on the same index as any page."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..._models import IncomingMessage, OutgoingMessage, SendResult, Status, StatusUpdate, new_id, utcnow
from .._paging import cursor_before
from .._protocol import Store
from ._base import PHONE, _log, run

__all__ = ["Forget"]


async def _wired(store: Store, text: str, ext: str, channel: str = "a") -> str:
    message_id = (await store.add_outgoing(OutgoingMessage(channel, PHONE, text, attachments=["https://m.example/1"]),
                                           claim_for=60)).record.id
    log = _log(channel, message_id=message_id)
    log.trace("POST", "https://agg.example/send", {}, text.encode(), 200)
    await store.record_send(message_id, SendResult(Status.WIRED, [ext]), log)
    return message_id


class Forget:
    """Redaction, deletion and time-bounded listings. Part of `StoreConformance`."""

    def test_redaction_blanks_a_finished_message_and_its_logs_only(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                target = await _wired(store, "secret plans", "ext-1")
                other = await _wired(store, "other text", "ext-2")
                queued = (await store.add_outgoing(OutgoingMessage("a", PHONE, "not yet"))).record.id
                assert await store.redact_message(queued) == "pending"  # the worker would send a blank text
                assert (await store.get_message(queued)).text == "not yet"  # type: ignore[union-attr]
                assert await store.redact_message(new_id()) == "unknown"
                assert await store.redact_message(target) == "done"
                record = await store.get_message(target)
                assert record is not None and (record.text, record.attachments) == ("", [])
                assert record.status == "wired" and [h["status"] for h in record.history] == ["queued", "wired"]
                assert await store.list_logs(message_id=target) == []
                assert len(await store.list_logs(message_id=other)) == 1
                assert (await store.get_message(other)).text == "other text"  # type: ignore[union-attr]
                # a report still finds it by the aggregator's id
                (report,) = await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, None, "ext-1")],
                                                       None)
                assert report.change is not None and report.change.message_id == target
                assert await store.redact_message(target) == "done"  # again: nothing left to blank, still fine
            finally:
                await store.close()

        run(go())

    def test_deletion_removes_a_finished_message_and_every_trace_of_it(self, store_factory: Callable[[], Store]
                                                                       ) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                target = await _wired(store, "bye", "ext-1")
                other = await _wired(store, "stay", "ext-2")
                errored = (await store.add_outgoing(OutgoingMessage("a", PHONE, "retrying"), claim_for=60)).record.id
                await store.record_send(errored, SendResult(Status.ERRORED, error_code="x"), None)
                assert await store.delete_message(errored) == "pending"
                assert await store.get_message(errored) is not None
                assert await store.delete_message(target) == "done"
                assert await store.get_message(target) is None
                assert await store.list_logs(message_id=target) == []
                assert await store.delete_message(target) == "unknown"
                # its aggregator id went with it: a late report names no message now; the other one's still lands
                (late,) = await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, None, "ext-1")], None)
                assert late.change is not None and late.change.message_id is None
                (kept,) = await store.record_inbound("a", [StatusUpdate("a", Status.DELIVERED, None, "ext-2")], None)
                assert kept.change is not None and kept.change.message_id == other
                incoming = IncomingMessage("a", PHONE, "hi", external_id="mo-1")
                await store.record_inbound("a", [incoming], None)
                assert await store.delete_message(incoming.id) == "done"
                assert [m.id for m in await store.list_messages(limit=100)] == [errored, other]
                # an inbound message deleted is a new one if the aggregator sends it again
                (again,) = await store.record_inbound("a", [IncomingMessage("a", PHONE, "hi", external_id="mo-1")],
                                                      None)
                assert again.created
            finally:
                await store.close()

        run(go())

    def test_a_listing_bounded_in_time_starts_before_that_time(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                older = [(await store.add_outgoing(OutgoingMessage("a", PHONE, f"o{i}"))).record.id for i in range(3)]
                await asyncio.sleep(0.02)
                edge = utcnow()
                await asyncio.sleep(0.02)
                newer = (await store.add_outgoing(OutgoingMessage("a", PHONE, "n"))).record.id
                page = await store.find_messages(cursor=cursor_before(edge), limit=2)
                assert [m.id for m in page.messages] == older[:0:-1] and page.next_cursor is not None
                rest = await store.find_messages(cursor=page.next_cursor, limit=2)
                assert [m.id for m in rest.messages] == older[:1] and rest.next_cursor is None
                contact = await store.find_messages(cursor=cursor_before(edge), number=PHONE, channel="a")
                assert [m.id for m in contact.messages] == older[::-1]
                assert newer not in [m.id for m in (await store.find_messages(cursor=cursor_before(edge))).messages]
            finally:
                await store.close()

        run(go())
