"""Several instances on one database (the store opened twice at once): each due message claimed by one of them,
a held message failed by its holder only, a console session signed out on one refused by the other."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from ..._models import OutgoingMessage, Status, utcnow
from .._protocol import Store
from ._base import PHONE, run

__all__ = ["Instances"]


class Instances:
    """Two stores on one database (two instances of `smsgate serve`). Part of `StoreConformance`."""

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

    def test_a_session_signed_out_on_one_store_is_refused_by_the_other(self, store_factory: Callable[[], Store]
                                                                        ) -> None:
        async def go() -> None:
            first, second = store_factory(), store_factory()
            try:
                assert not await second.session_revoked("s-1")
                await first.revoke_session("s-1", utcnow() + timedelta(hours=12))
                assert await second.session_revoked("s-1") and not await second.session_revoked("s-2")
                await first.revoke_session("s-1", utcnow() + timedelta(hours=12))  # signing out twice is fine
                # a revocation past the session's own expiry is forgotten by a later sign-out
                await second.revoke_session("s-old", utcnow() - timedelta(seconds=1))
                assert await first.session_revoked("s-old")
                await second.revoke_session("s-2", utcnow() + timedelta(hours=12))
                assert not await first.session_revoked("s-old")
                assert await first.session_revoked("s-1") and await first.session_revoked("s-2")
            finally:
                await first.close()
                await second.close()

        run(go())
