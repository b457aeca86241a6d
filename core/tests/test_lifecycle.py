"""Adapters with long-lived connections: started and stopped with `smsgate serve`'s app, inbound without HTTP
(durable before the adapter acknowledges), health in /healthz and the worker, the explicit durability mark."""

from __future__ import annotations

import asyncio

import httpx
from smsgate import Adapter, IncomingMessage, OutgoingMessage, SendResult, Status, hookimpl
from smsgate.host import Gateway as _Gateway
from smsgate.host import config_from_dict, create_app, open_worker


class Connected(Adapter):
    """An adapter that owns a connection: it records its lifecycle and what the gateway gave it."""

    name = "connected"
    events: list[str]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.events = []
        self.inbound = None
        self.down: str | None = None
        self.marked_before_write: list[str | None] = []

    async def start(self, inbound):
        self.events.append("start")
        self.inbound = inbound

    async def stop(self):
        self.events.append("stop")

    def health(self):
        return self.down

    async def send(self, message, log):
        await log.going_out()  # what an SMPP adapter does before writing a submit_sm
        stored = await self.inbound.gateway.store.get_message(message.id) if self.inbound else None
        self.marked_before_write.append(stored.sending_at if stored else None)
        return SendResult(Status.WIRED, external_ids=["x-1"])


def make(tmp_path, **gateway):
    config = config_from_dict({"gateway": {"database": str(tmp_path / "db.sqlite3"), **gateway},
                               "channels": {"c": {"adapter": "connected", "country": "RW"}}},
                              {"connected": Connected})
    return _Gateway(config)


def test_serve_lifespan_starts_and_stops_adapters_and_inbound_is_durable_before_it_returns(tmp_path,
                                                                                         smsgate_register):
    heard = []

    class Listener:
        @hookimpl
        def smsgate_message_received(self, message, channel):
            heard.append(message.text)

    smsgate_register(Listener(), "listener")

    async def go():
        gateway = make(tmp_path)
        adapter = gateway.adapters["c"]
        app = create_app(gateway, own_gateway=True, background=True)
        async with app.router.lifespan_context(app):
            assert adapter.events == ["start"]
            outcomes = await adapter.inbound([IncomingMessage("c", "+250788123123", "hi", external_id="m1")])
            # the sink returns after the commit: a fresh read sees the message, and the hook already ran
            stored = await gateway.store.list_messages(direction="in")
            again = await adapter.inbound([IncomingMessage("c", "+250788123123", "hi", external_id="m1")])
        return adapter.events, outcomes, stored, again

    events, outcomes, stored, again = asyncio.run(go())
    assert events == ["start", "stop", "stop"]  # the lifespan stops it, then closing the gateway (idempotent)
    assert [o.created for o in outcomes] == [True] and [m.text for m in stored] == ["hi"]
    assert [o.created for o in again] == [False]  # a redelivery is stored once
    assert heard == ["hi"]


def test_healthz_says_a_channel_is_down_and_names_it_only_to_the_api_token(tmp_path):
    async def go():
        gateway = make(tmp_path, api_token="health-token-1")
        app = create_app(gateway, own_gateway=True)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            fine = (await client.get("/healthz")).json()
            gateway.adapters["c"].down = "bind down: connection refused"
            down = await client.get("/healthz")
            named = await client.get("/healthz", headers={"Authorization": "Bearer health-token-1"})
        await gateway.close()
        return fine, down, named

    fine, down, named = asyncio.run(go())
    assert fine == {"status": "ok", "database": "ok", "channels_down": 0}
    assert down.status_code == 200 and down.json() == {"status": "degraded", "database": "ok", "channels_down": 1}
    assert named.json()["down"] == {"c": "bind down: connection refused"}


def test_worker_keeps_messages_queued_while_the_channel_is_down(tmp_path):
    async def go():
        gateway = make(tmp_path)
        adapter = gateway.adapters["c"]
        await gateway.start_adapters()
        adapter.down = "bind down"
        worker = open_worker(gateway, poll_interval=0.05)
        await gateway.enqueue(OutgoingMessage("c", "+250788383383", "hello", id="00000000-0000-4000-8000-000000000001"))
        first = await worker.run_once()
        queued = await gateway.store.get_message("00000000-0000-4000-8000-000000000001")
        adapter.down = None
        second = await worker.run_once()
        sent = await gateway.store.get_message("00000000-0000-4000-8000-000000000001")
        await gateway.close()
        return first, queued, second, sent, adapter.marked_before_write

    first, queued, second, sent, marks = asyncio.run(go())
    assert (first, queued.status, queued.attempts) == (0, "queued", 0)
    assert (second, sent.status, sent.external_ids) == (1, "wired", ["x-1"])
    assert marks and marks[0] is not None  # going_out made the durable mark before the "write"
    assert sent.sending_at is None  # and the recorded outcome cleared it


def test_gateway_close_stops_adapters_that_were_never_started(tmp_path):
    async def go():
        gateway = make(tmp_path)
        adapter = gateway.adapters["c"]
        await gateway.close()
        return adapter.events

    assert asyncio.run(go()) == ["stop"]


def test_going_out_outside_a_gateway_send_does_nothing(tmp_path):
    async def go():
        gateway = make(tmp_path)
        log = gateway.adapters["c"].new_log("send")
        await log.going_out()
        await gateway.close()

    asyncio.run(go())
