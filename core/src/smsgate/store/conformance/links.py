"""Channels' links and recent traffic: the state follows the latest evidence, `since` moves only when the state
does, a probe's time is kept, two stores see one state; a channel's last minute counts what the aggregator
accepted and what arrived."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from ..._models import IncomingMessage, OutgoingMessage, SendResult, Status, utcnow
from .._protocol import Store
from .._records import LinkSeen, Rates
from ._base import PHONE, _log, run

__all__ = ["Links"]


class Links:
    """Link state and traffic rates. Part of `StoreConformance`."""

    def test_link_state_follows_the_latest_evidence(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                assert await store.links() == {}  # no evidence yet: every channel is unknown
                await store.record_links([LinkSeen("a", "up", "answered a send (HTTP 200)")])
                first = (await store.links())["a"]
                assert (first.state, first.reason, first.probed_at) == ("up", "answered a send (HTTP 200)", None)
                await asyncio.sleep(0.01)
                # the same state again: `since` and the reason stay (the link has been up since then), a probe's
                # time is kept
                await store.record_links([LinkSeen("a", "up", "TCP connection accepted", probed=True)])
                again = (await store.links())["a"]
                assert (again.since, again.reason) == (first.since, first.reason)
                assert again.probed_at is not None and again.probed_at > first.since
                # one failure after success: down at once, since now, with its reason
                await store.record_links([LinkSeen("a", "down", "cannot connect to 127.0.0.1:9 (connection refused)"),
                                          LinkSeen("b", "down", "host name not found", probed=True)])
                links = await store.links()
                assert links["a"].state == "down" and links["a"].since > again.since
                assert links["a"].reason == "cannot connect to 127.0.0.1:9 (connection refused)"
                assert links["a"].probed_at == again.probed_at  # a send is evidence, not a probe
                assert (links["b"].state, links["b"].since) == ("down", links["b"].probed_at)
                # ...and up again with the next answer
                await store.record_links([LinkSeen("a", "up", "answered a send (HTTP 401)")])
                assert (await store.links())["a"].state == "up"
            finally:
                await store.close()
            reopened = store_factory()  # durable, and seen by another store of the same database
            try:
                assert {n: link.state for n, link in (await reopened.links()).items()} == {"a": "up", "b": "down"}
            finally:
                await reopened.close()

        run(go())

    def test_two_stores_reporting_at_once_agree_on_one_state(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            first, second = store_factory(), store_factory()
            try:
                await asyncio.gather(*(store.record_links([LinkSeen("a", state, state, probed=True)])
                                       for _ in range(10) for store, state in ((first, "up"), (second, "down"))))
                seen = await first.links(), await second.links()
                assert seen[0] == seen[1] and seen[0]["a"].state in ("up", "down")
                # several pieces of evidence for one channel in one write: the last one wins
                await first.record_links([LinkSeen("a", "down", "x"), LinkSeen("a", "up", "y", probed=True)])
                assert (await second.links())["a"].state == "up"
            finally:
                await first.close()
                await second.close()

        run(go())

    def test_rates_count_the_window_accepted_and_received(self, store_factory: Callable[[], Store]) -> None:
        async def go() -> None:
            store = store_factory()
            try:
                async def send(channel: str, result: SendResult) -> None:
                    added = await store.add_outgoing(OutgoingMessage(channel, PHONE, "x"), claim_for=60)
                    await store.record_send(added.record.id, result, _log(channel, message_id=added.record.id))

                await send("a", SendResult(Status.WIRED, ["e1"]))
                await send("a", SendResult(Status.WIRED, ["e2"]))
                await send("a", SendResult(Status.ERRORED, error_code="x", error_reason="down"))  # not accepted
                await send("b", SendResult(Status.FAILED, error_code="x", error_reason="no"))
                await store.add_outgoing(OutgoingMessage("a", PHONE, "still queued"))
                await store.record_inbound("a", [IncomingMessage("a", PHONE, "hi", external_id="m1"),
                                                 IncomingMessage("a", PHONE, "hi", external_id="m1")], None)  # once
                await store.record_inbound("b", [IncomingMessage("b", PHONE, "yo", external_id="m2")], None)
                since = utcnow() - timedelta(minutes=1)
                assert await store.rates(["a", "b", "c"], since) == {"a": Rates(2, 1), "b": Rates(0, 1),
                                                                    "c": Rates(0, 0)}
                assert await store.rates(["a"], utcnow() + timedelta(seconds=1)) == {"a": Rates(0, 0)}
                assert await store.rates([], since) == {}
            finally:
                await store.close()

        run(go())
