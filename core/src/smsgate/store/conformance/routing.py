"""Routes and tenants: a routed message moves to its route's next channel within one claim and keeps its id, its
history naming each channel; a tenant's limits hold across stores on one database; a tenant's listing merges
its channels' pages without losing or repeating a message."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from ..._models import OutgoingMessage, SendResult, Status
from ...errors import LimitReached
from .._protocol import Store
from .._records import Limits
from ._base import PHONE, _log, _plan_everything, run

__all__ = ["Routing"]


class Routing:
    """Rerouting, routed claims, tenants' limits and multi-channel pages. Part of `StoreConformance`."""

    def test_reroute_moves_a_held_message_keeping_its_id_and_claim(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            store.set_planner(_plan_everything)
            try:
                message = OutgoingMessage("a", PHONE, "x", route=["a", "b"], tenant="acme")
                added = await store.add_outgoing(message, claim_for=60)
                assert added.record.route == ["a", "b"] and added.record.tenant == "acme"
                assert await store.mark_sending(message.id)
                change = await store.reroute(message.id, "b", "+250788000000", "b-sender", error_code="refused",
                                             error_reason="cannot connect; moved to channel b",
                                             log=_log("a", message_id=message.id))
                assert change.applied and change.previous is Status.QUEUED and change.current is Status.ERRORED
                (event,) = change.platform_events
                assert event.channel == "a" and event.current is Status.ERRORED
                stored = await store.get_message(message.id)
                assert stored is not None and stored.channel == "b" and stored.to == "+250788000000"
                assert stored.from_ == "b-sender" and stored.sending_at is None and stored.attempts == 1
                assert [(h["status"], h["channel"]) for h in stored.history] == [("queued", "a"), ("errored", "a")]
                assert await store.claim(message.id) is None  # still held: no other sender takes it meanwhile
                assert await store.mark_sending(message.id)  # and the holder may send it on `b`
                done = await store.record_send(message.id, SendResult(Status.WIRED, ["ext-b"]),
                                             _log("b", message_id=message.id))
                assert done.applied and done.record is not None and done.record.channel == "b"
                assert [h["channel"] for h in done.record.history] == ["a", "a", "b"]
                assert [log["channel"] for log in await store.list_logs(message_id=message.id)] == ["b", "a"]
                # a message no longer pending (or no longer held) does not move
                late = await store.reroute(message.id, "a", PHONE, "", error_code="x", error_reason="y", log=None)
                assert not late.applied
                assert (await store.get_message(message.id)).channel == "b"  # type: ignore[union-attr]
            finally:
                await store.close()

        run(go())

    def test_claim_due_routed_takes_only_messages_a_route_may_move(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                named = (await store.add_outgoing(OutgoingMessage("a", PHONE, "named"))).record.id
                routed = (await store.add_outgoing(OutgoingMessage("a", PHONE, "routed", route=["a", "b"]))).record.id
                assert [r.id for r in await store.claim_due("a", limit=10, routed=True)] == [routed]
                assert [r.id for r in await store.claim_due("a", limit=10)] == [named]
            finally:
                await store.close()

        run(go())

    def test_a_tenants_daily_limit_holds_across_two_stores(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            first, second = store_factory(), store_factory()
            try:
                limits = Limits("acme", daily=7)

                async def send(store: Store, i: int) -> bool:
                    try:
                        await store.add_outgoing(OutgoingMessage("a", PHONE, str(i), tenant="acme"), limits=limits)
                    except LimitReached as exc:
                        assert "daily_limit of 7" in exc.reason and 0 < exc.retry_after <= 86400
                        return False
                    return True

                taken = await asyncio.gather(*(send(first if i % 2 else second, i) for i in range(20)))
                assert sum(taken) == 7
                assert len(await first.list_messages(limit=100)) == 7  # a refused message is not stored
                other = Limits("other", daily=1)  # each tenant counts its own
                await first.add_outgoing(OutgoingMessage("a", PHONE, "o", tenant="other"), limits=other)
                # a known id is not counted again
                known = (await first.list_messages(limit=1))[0]
                again = await second.add_outgoing(OutgoingMessage("a", PHONE, known.text, id=known.id,
                                                                  tenant="acme"), limits=limits)
                assert not again.created
            finally:
                await first.close()
                await second.close()

        run(go())

    def test_a_tenants_tps_allows_a_seconds_burst_then_says_when(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                limits = Limits("acme", tps=5)
                for i in range(5):  # a second's worth at once
                    await store.add_outgoing(OutgoingMessage("a", PHONE, str(i), tenant="acme"), limits=limits)
                with pytest.raises(LimitReached) as refused:
                    await store.add_outgoing(OutgoingMessage("a", PHONE, "6", tenant="acme"), limits=limits)
                assert 0 < refused.value.retry_after <= 0.2 + 0.05
                await asyncio.sleep(refused.value.retry_after + 0.05)
                await store.add_outgoing(OutgoingMessage("a", PHONE, "7", tenant="acme"), limits=limits)
                assert len(await store.list_messages(limit=100)) == 6
            finally:
                await store.close()

        run(go())

    def test_pages_over_several_channels_list_each_message_once(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                ids: dict[str, list[str]] = {"a": [], "b": [], "c": []}
                for i in range(30):
                    channel = "abc"[(i * 7) % 3] if i % 5 else "a"
                    message = OutgoingMessage(channel, PHONE, f"m{i}")
                    ids[channel].append((await store.add_outgoing(message)).record.id)
                wanted = set(ids["a"]) | set(ids["b"])
                for filters in ({}, {"status": "queued"}, {"text": "m1"}):
                    seen: list[str] = []
                    cursor = None
                    while True:
                        page = await store.find_messages(channels=["a", "b"], limit=4, cursor=cursor, **filters)
                        assert all(m.channel in ("a", "b") for m in page.messages)
                        seen += [m.id for m in page.messages]
                        if page.next_cursor is None:
                            break
                        cursor = page.next_cursor
                    expected = [m for m in wanted if not filters.get("text") or
                                "m1" in (await store.get_message(m)).text]  # type: ignore[union-attr]
                    assert len(seen) == len(set(seen)) and set(seen) == set(expected), filters
                    created = [(await store.get_message(m)).created_at for m in seen]  # type: ignore[union-attr]
                    assert created == sorted(created, reverse=True)  # newest first across channels
                one = await store.find_messages(channels=["a", "b"], channel="c")
                assert one.messages == [] and one.next_cursor is None  # a channel outside them shows nothing
                assert {m.id for m in (await store.find_messages(channels=["b"], limit=50)).messages} == set(ids["b"])
            finally:
                await store.close()

        run(go())
