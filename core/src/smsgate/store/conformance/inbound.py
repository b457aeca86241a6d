"""Inbound messages: each (channel, external id) stored once, and many concurrent writes each durable once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..._models import IncomingMessage, OptOut
from .._protocol import Store
from ._base import PHONE, _log, run

__all__ = ["Inbound"]


class Inbound:
    """Inbound messages. Part of `StoreConformance`."""

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
