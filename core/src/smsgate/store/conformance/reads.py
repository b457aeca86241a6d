"""Reads: listings newest first, pages by cursor that later writes never shift, and the operators' reads (the console,
/metrics): message pages, per-hour counts, backlog, last errors, a message's outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from ..._models import IncomingMessage, OutgoingMessage, SendResult, Status, new_id, utcnow
from .._protocol import Store
from ._base import PHONE, _log, _plan_everything, run

__all__ = ["Reads"]


class Reads:
    """Listings, pages and the operators' reads. Part of `StoreConformance`."""

    # -- listings and pages ---------------------------------------------------------------------------

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
