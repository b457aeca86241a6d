"""The store's generic pieces for connection-oriented adapters: durable fragments, leases, inbound lookups
(on both backends: `open_store`)."""

from __future__ import annotations

import asyncio

from smsgate import IncomingMessage
from smsgate.store import Fragment

from tests.support.rawsql import store_sql


def run(coro):
    return asyncio.run(coro)


def join(parts):
    text = "".join(p.data["text"] for p in parts)
    incomplete = len(parts) < parts[0].total
    return [IncomingMessage("c", "+250788123123", text, external_id=f"joined:{parts[0].key}:{text}",
                            raw={"incomplete": incomplete})]


def test_parts_survive_a_restart_and_join_once(open_store):
    async def first():
        store = open_store()
        new, outcomes = await store.add_fragment("c", Fragment("k", 1, 2, {"text": "Hello "}), join, None)
        await store.close()
        return new, outcomes

    assert run(first()) == (True, [])

    async def second():
        store = open_store()  # a restarted gateway: part 1 is still there
        try:
            again = await store.add_fragment("c", Fragment("k", 1, 2, {"text": "Hello "}), join, None)
            done = await store.add_fragment("c", Fragment("k", 2, 2, {"text": "world"}), join, None)
            replay = await store.add_fragment("c", Fragment("k", 2, 2, {"text": "world"}), join, None)
            messages = await store.list_messages(direction="in")
            return again, done, replay, messages
        finally:
            await store.close()

    again, done, replay, messages = run(second())
    assert again == (False, [])
    assert done[0] is True and [o.event.text for o in done[1]] == ["Hello world"] and done[1][0].created
    assert replay == (False, [])  # the last part redelivered after the join: not a new message
    assert [m.text for m in messages] == ["Hello world"]


def test_fragments_are_per_channel(open_store):
    async def go():
        store = open_store()
        try:
            await store.add_fragment("a", Fragment("k", 1, 2, {"text": "A1"}), join, None)
            other = await store.add_fragment("b", Fragment("k", 2, 2, {"text": "B2"}), join, None)
            return other
        finally:
            await store.close()

    assert run(go()) == (True, [])  # channel b's part 2 never completes channel a's part 1


def test_a_reused_key_finishes_the_old_message_as_it_is(open_store):
    async def go():
        store = open_store()
        try:
            await store.add_fragment("c", Fragment("k", 1, 2, {"text": "old "}), join, None)
            new, outcomes = await store.add_fragment("c", Fragment("k", 1, 2, {"text": "new "}), join, None)
            assert new
            _, done = await store.add_fragment("c", Fragment("k", 2, 2, {"text": "message"}), join, None)
            return outcomes, done
        finally:
            await store.close()

    outcomes, done = run(go())
    assert [(o.event.text, o.event.raw) for o in outcomes] == [("old ", {"incomplete": True})]
    assert [o.event.text for o in done] == ["new message"]


def test_lease_is_exclusive_until_it_expires_or_is_released(open_store):
    async def go():
        store = open_store()
        try:
            got = [await store.lease("bind:0", "A", 30), await store.lease("bind:0", "B", 30),
                   await store.lease("bind:0", "A", 30)]
            await store.release("bind:0", "B")  # not B's: nothing happens
            got.append(await store.lease("bind:0", "B", 30))
            await store.release("bind:0", "A")
            got.append(await store.lease("bind:0", "B", 30))
            got.append(await store.lease("bind:1", "C", -1))  # already expired
            got.append(await store.lease("bind:1", "D", 30))
            return got
        finally:
            await store.close()

    assert run(go()) == [True, False, True, False, True, True, True]


def test_known_inbound_is_scoped_to_the_channel(open_store):
    async def go():
        store = open_store()
        try:
            await store.record_inbound("a", [IncomingMessage("a", "+250788123123", "x", external_id="e1")], None)
            return (await store.known_inbound("a", ["e1", "e2"]), await store.known_inbound("b", ["e1"]),
                    await store.known_inbound("a", []))
        finally:
            await store.close()

    assert run(go()) == ({"e1"}, set(), set())


def test_a_message_in_parts_is_delivered_when_every_part_is(open_store):
    from smsgate import OutgoingMessage, SendResult, Status, StatusUpdate

    async def go():
        store = open_store()
        try:
            seen = []
            for mid, ext in (("00000000-0000-4000-8000-000000000001", ["p1", "p2"]),
                             ("00000000-0000-4000-8000-000000000002", ["q1", "q2"])):
                await store.add_outgoing(claim_for=300, message=OutgoingMessage("c", "+250788383383", "long", id=mid))
                await store.record_send(mid, SendResult(Status.WIRED, external_ids=ext, segments=2), None)
            for ext, status in (("p1", Status.DELIVERED), ("p1", Status.DELIVERED), ("p2", Status.DELIVERED),
                                ("q1", Status.DELIVERED), ("q2", Status.FAILED)):
                await store.record_inbound("c", [StatusUpdate("c", status, external_id=ext)], None)
                seen.append((await store.get_message(
                    "00000000-0000-4000-8000-00000000000" + ("1" if ext[0] == "p" else "2"))).status)
            history = (await store.get_message("00000000-0000-4000-8000-000000000001")).history
            return seen, [(h["status"], h["applied"], h["external_id"]) for h in history]
        finally:
            await store.close()

    seen, history = run(go())
    assert seen == ["sent", "sent", "delivered", "sent", "failed"]
    assert history == [("queued", True, None), ("wired", True, None), ("delivered", False, "p1"),
                       ("sent", True, "p1"), ("delivered", True, "p2")]


def test_a_receipt_that_overtakes_the_send_answer_is_applied_when_the_send_is_recorded(open_store):
    from smsgate import OutgoingMessage, SendResult, Status, StatusUpdate

    async def go():
        store = open_store()
        try:
            mid = "00000000-0000-4000-8000-000000000009"
            await store.add_outgoing(claim_for=300, message=OutgoingMessage("c", "+250788383383", "hi", id=mid))
            # the receipt comes first (another connection), then the answer with its id is recorded
            early = await store.record_inbound("c", [StatusUpdate("c", Status.DELIVERED, external_id="e9")], None)
            other = await store.record_inbound("d", [StatusUpdate("d", Status.FAILED, external_id="e9")], None)
            change = await store.record_send(mid, SendResult(Status.WIRED, external_ids=["e9"]), None)
            record = await store.get_message(mid)
            orphans = await store_sql(store, "SELECT channel FROM status_history WHERE message_id IS NULL")
            return early, other, change, record, [r[0] for r in orphans]
        finally:
            await store.close()

    early, _other, change, record, orphans = run(go())
    assert early[0].change.message_id is None  # unknown when it came: kept as an orphan
    # the send's own move, then the early report's: two events, in order, and the message ends delivered
    assert (change.previous, change.current) == (Status.QUEUED, Status.WIRED)
    assert [(e.previous, e.current) for e in change.platform_events] == [
        (Status.QUEUED, Status.WIRED), (Status.WIRED, Status.DELIVERED)]
    assert record.status == "delivered" and change.record.status == "delivered"
    assert orphans == ["d"]  # another channel's report with the same id stays theirs


def test_an_old_orphan_report_is_not_applied_to_a_new_send(open_store):
    from datetime import timedelta

    from smsgate import OutgoingMessage, SendResult, Status, StatusUpdate, utcnow

    async def go():
        store = open_store()
        try:
            mid = "00000000-0000-4000-8000-000000000010"
            old = StatusUpdate("c", Status.FAILED, external_id="reused", at=utcnow() - timedelta(hours=2))
            await store.record_inbound("c", [old], None)
            await store.add_outgoing(claim_for=300, message=OutgoingMessage("c", "+250788383383", "hi", id=mid))
            await store.record_send(mid, SendResult(Status.WIRED, external_ids=["reused"]), None)
            return (await store.get_message(mid)).status
        finally:
            await store.close()

    assert run(go()) == "wired"
