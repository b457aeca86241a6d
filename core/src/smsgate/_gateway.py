"""The gateway: channels bound to adapter instances, the send pipeline and the inbound pipeline."""

from __future__ import annotations

import contextvars
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pluggy

from ._adapter import Adapter, InboundRequest
from ._bridges import RapidProBridge, make_bridges
from ._config import Channel, Config
from ._errors import MessageInvalid, RequestRejected, SendError
from ._http import HttpClient
from ._models import Event, Ignored, IncomingMessage, OptOut, OutgoingMessage, SendResult, Status, StatusUpdate
from ._outbox import build_planner
from ._store import Fragment, FragmentJoin, InboundOutcome, MessageRecord, SQLiteStore, StatusChange, Store

__all__ = ["Gateway", "SendOutcome"]

log = logging.getLogger("smsgate")

# Resends get ids derived from the original's: asking twice (a retried API call, a double-click) queues once.
_RESEND_NAMESPACE = uuid.UUID("6f1c2a9e-8d4b-4f0e-9a57-3c1e5b7d2f10")

# Set while a send attempt runs: called before each HTTP request the attempt makes.
_on_request: contextvars.ContextVar[Callable[[], Awaitable[None]] | None] = contextvars.ContextVar(
    "smsgate_on_request", default=None)


async def _before_request(request: httpx.Request) -> None:
    callback = _on_request.get()
    if callback is not None:
        await callback()


class _MarkingHttpClient(HttpClient):
    """The shared client, plus a request hook that durably marks a send as started before its first request."""

    def client(self, verify: Any = None) -> httpx.AsyncClient:
        """The pooled client, with the marking hook installed once."""
        client = super().client(verify)
        hooks = client.event_hooks["request"]
        if _before_request not in hooks:
            hooks.append(_before_request)
        return client


async def await_me_maybe(value: Any) -> Any:
    """Await `value` if a hook implementation returned a coroutine (pluggy does not await)."""
    if inspect.isawaitable(value):
        return await value
    return value


@dataclass(slots=True)
class SendOutcome:
    """What `Gateway.send` did: the stored message after the attempt and the attempt's result (None if skipped)."""

    message: MessageRecord
    result: SendResult | None
    sent: bool

    @property
    def ok(self) -> bool:
        """True when the message is (or already was) accepted by the aggregator."""
        return self.message.status not in (Status.QUEUED.value, Status.ERRORED.value, Status.FAILED.value)


class Gateway:
    """Binds a config's channels to adapters, owns the store and the HTTP client, and runs both pipelines."""

    def __init__(self, config: Config, *, store: Store | None = None, pm: pluggy.PluginManager | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if pm is None:
            from .plugins import load_plugins
            from .plugins import pm as default_pm

            load_plugins()
            pm = default_pm
        self.config = config
        self.pm = pm
        self.store: Store = store or SQLiteStore(config.gateway.database, synchronous=config.gateway.synchronous)
        self.http: HttpClient = _MarkingHttpClient(transport, backend=config.gateway.http_backend)
        self.public_url = config.gateway.base_url()
        self.adapters: dict[str, Adapter] = {}
        for name, channel in config.channels.items():
            adapter = channel.adapter_cls(channel, self.http, self.public_url)
            self.adapters[name] = adapter
            self.pm.hook.smsgate_adapter_started(adapter=adapter)
        self.bridges: dict[str, RapidProBridge] = make_bridges(config.bridges)
        if config.gateway.webhooks or self.bridges:
            self.store.set_planner(build_planner(config.gateway.webhooks, self.bridges))

    async def close(self) -> None:
        """Stop the adapters (closing any connection they opened), then close pooled connections and the store."""
        await self.stop_adapters()
        await self.http.aclose()
        await self.store.close()

    async def start_adapters(self) -> None:
        """Give each adapter its inbound sink and let it open long-lived connections (`smsgate serve`)."""
        from ._inbound import InboundSink

        for name, adapter in self.adapters.items():
            try:
                await adapter.start(InboundSink(self, adapter))
            except Exception:  # one channel's broken start must not keep the others from serving
                log.exception("channel %s: its adapter failed to start", name)

    async def stop_adapters(self) -> None:
        """Stop every adapter; a failure is logged and the others still stop."""
        for name, adapter in self.adapters.items():
            try:
                await adapter.stop()
            except Exception:
                log.exception("channel %s: its adapter failed to stop", name)

    def health(self) -> dict[str, str]:
        """The channels that cannot send now, with the reason each adapter gives."""
        down: dict[str, str] = {}
        for name, adapter in self.adapters.items():
            try:
                reason = adapter.health()
            except Exception as exc:
                reason = f"health check failed: {type(exc).__name__}"
            if reason is not None:
                down[name] = reason
        return down

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def adapter(self, channel: str) -> Adapter:
        """The adapter serving `channel`, or a ConfigError naming the known channels."""
        try:
            return self.adapters[channel]
        except KeyError:
            self.config.channel(channel)  # raises with the list of known channels
            raise

    # -- sending ----------------------------------------------------------------------------------

    async def prepare(self, channel: str, to: str, text: str, **fields: Any) -> OutgoingMessage:
        """Build an outgoing message for `channel` with `to` normalised; MessageInvalid if it cannot be sent."""
        adapter = self.adapter(channel)
        message = OutgoingMessage(channel=channel, to=adapter.outgoing_number(to), text=text,
                                  from_=adapter.settings.address, **fields)
        if not message.text and not message.attachments:
            raise MessageInvalid("nothing to send: the text is empty and there are no attachments")
        return message

    async def prepare_resend(self, message_id: str) -> OutgoingMessage:
        """A copy of failed outgoing message `message_id` to queue again; KeyError if unknown, MessageInvalid if
        it is not a failed outgoing message. The copy's id is derived from the original's, so it queues once."""
        original = await self.store.get_message(message_id)
        if original is None:
            raise KeyError(message_id)
        if original.direction != "out":
            raise MessageInvalid(f"message {message_id} is incoming: only outgoing messages are resent")
        if original.status != Status.FAILED.value:
            hint = (" (the worker still retries it)" if original.status in (Status.QUEUED.value, Status.ERRORED.value)
                    else " (the aggregator accepted it)")
            raise MessageInvalid(f"message {message_id} is {original.status}{hint}: only failed messages are resent")
        self.adapter(original.channel)  # a channel since removed from the config cannot send it
        return OutgoingMessage(
            channel=original.channel, to=original.to, text=original.text, from_=original.from_,
            id=str(uuid.uuid5(_RESEND_NAMESPACE, original.id)), attachments=list(original.attachments),
            quick_replies=list(original.quick_replies), high_priority=original.high_priority,
            metadata={**original.metadata, "resend_of": original.id})

    async def enqueue(self, message: OutgoingMessage) -> tuple[MessageRecord, bool]:
        """Durably queue `message`; an id seen before returns the stored message and False."""
        self.adapter(message.channel)
        record, created = await self.store.add_outgoing(message)
        if created:
            await self._announce_queued(message)
        return record, created

    async def _announce_queued(self, message: OutgoingMessage) -> None:
        await self._notify_status(message.channel, StatusUpdate(message.channel, Status.QUEUED, message.id),
                                  None, Status.QUEUED)

    async def send(self, message: OutgoingMessage) -> SendOutcome:
        """Queue `message` (idempotently by id) and attempt it now unless it was already sent or taken."""
        self.adapter(message.channel)
        record, created, claimed = await self.store.add_and_claim(message)
        if created:
            await self._announce_queued(message)
        if not claimed:  # already wired or final, or another worker holds it
            return SendOutcome(record, None, False)
        return await self._attempt_claimed(record, message)

    async def attempt(self, message_id: str, message: OutgoingMessage | None = None, *,
                      lease_seconds: float = 300) -> SendOutcome:
        """Claim a queued or errored message and send it once through its channel's adapter."""
        claimed = await self.store.claim(message_id, lease_seconds)
        if claimed is None:
            current = await self.store.get_message(message_id)
            if current is None:
                raise KeyError(message_id)
            return SendOutcome(current, None, False)
        return await self._attempt_claimed(claimed, message)

    async def _attempt_claimed(self, claimed: MessageRecord, message: OutgoingMessage | None) -> SendOutcome:
        message_id = claimed.id
        if message is None:
            message = OutgoingMessage(channel=claimed.channel, to=claimed.to, text=claimed.text, id=claimed.id,
                                      from_=claimed.from_, attachments=claimed.attachments,
                                      metadata=claimed.metadata, quick_replies=claimed.quick_replies,
                                      high_priority=claimed.high_priority)
        adapter = self.adapter(message.channel)
        channel = adapter.channel
        clog = adapter.new_log("send", message.id)
        marked = False

        async def mark_sending() -> None:
            # durable before the first request leaves: after a crash, the worker knows the send is in doubt
            nonlocal marked
            if not marked:
                marked = True
                try:
                    await self.store.mark_sending(message_id)
                except Exception:
                    log.exception("cannot mark %s as being sent", message_id)

        clog.on_send = mark_sending  # adapters that do not speak HTTP mark through `await log.before_send()`
        token = _on_request.set(mark_sending)
        try:
            result = await self._send_once(adapter, channel, message, clog)
        finally:
            _on_request.reset(token)
        change = await self.store.record_send(message.id, result, clog)
        for event in result.events:
            if isinstance(event, OptOut):
                await self._fire(self.pm.hook.smsgate_opted_out, event=event, channel=channel)
        await self._fire(self.pm.hook.smsgate_after_send, message=message, result=result, channel=channel)
        if change.applied and change.current is not None:
            await self._notify_status(message.channel, StatusUpdate(message.channel, change.current, message.id,
                                                                    error_code=result.error_code,
                                                                    error_reason=result.error_reason),
                                      change.previous, change.current)
        stored = change.record or await self.store.get_message(message.id)
        assert stored is not None
        return SendOutcome(stored, result, True)

    async def fail(self, message_id: str, error_code: str, error_reason: str) -> StatusChange:
        """Give up on an unclaimed queued or errored message: `failed` with the reason, hooks fired."""
        change = await self.store.fail_message(message_id, error_code, error_reason)
        if change.applied and change.current is not None:
            stored = await self.store.get_message(message_id)
            if stored is not None:
                await self._notify_status(stored.channel, StatusUpdate(stored.channel, change.current, message_id,
                                                                       error_code=error_code,
                                                                       error_reason=error_reason),
                                          change.previous, change.current)
        return change

    async def _send_once(self, adapter: Adapter, channel: Channel, message: OutgoingMessage,
                         clog: Any) -> SendResult:
        verdict = await await_me_maybe(self.pm.hook.smsgate_before_send(message=message, channel=channel))
        if isinstance(verdict, str):
            clog.error(f"vetoed: {verdict}")
            return SendResult(Status.FAILED, error_code="vetoed", error_reason=verdict)
        if isinstance(verdict, OutgoingMessage):
            message = replace(verdict, id=message.id, channel=message.channel)
        try:
            result = await adapter.send(message, clog)
        except SendError as exc:
            if not clog.errors:
                clog.error(f"{exc.code}: {exc.reason}")
            events: list[Event] = []
            if exc.code == "contact_stopped":
                events.append(OptOut(message.channel, message.to, reason=exc.reason))
            return SendResult(Status.ERRORED if exc.retryable else Status.FAILED, error_code=exc.ext_code or exc.code,
                              error_reason=adapter.redactor.text(exc.reason), retry_after=exc.retry_after,
                              events=events)
        except Exception as exc:  # an adapter bug is recorded, never allowed to lose the message or crash us
            # no traceback: its frames and message may hold credentials; the redacted reason is stored
            log.error("adapter %s crashed sending %s: %s", adapter.name, message.id,
                      adapter.redactor.text(f"{type(exc).__name__}: {exc}"))
            clog.error(f"adapter_error: {type(exc).__name__}: {exc}")
            return SendResult(Status.FAILED, error_code="adapter_error",
                              error_reason=adapter.redactor.text(f"{type(exc).__name__}: {exc}"))
        return result

    # -- receiving --------------------------------------------------------------------------------

    async def handle_inbound(self, channel_name: str, action: str, request: InboundRequest
                             ) -> tuple[Adapter, list[Event], list[InboundOutcome]]:
        """Run `action`'s handler, durably store the events, then fire hooks; RequestRejected for bad input."""
        adapter = self.adapters.get(channel_name)
        if adapter is None:
            raise RequestRejected(f"unknown channel {channel_name!r}", 404)
        route = adapter.routes.get(action)
        if route is None:
            known = ", ".join(sorted(adapter.routes)) or "none"
            raise RequestRejected(f"channel {channel_name!r} has no route {action!r} (routes: {known})", 404)
        if request.method not in route.methods and not (request.method == "HEAD" and "GET" in route.methods):
            raise RequestRejected(f"method {request.method} not allowed on {action!r}; use "
                                  f"{' or '.join(route.methods)}", 405)
        clog = adapter.new_log(action)
        events = await getattr(adapter, route.handler)(request)
        clog.trace(request.method, request.url, request.headers, request.body, 200)
        outcomes = await self.store_inbound(adapter, events, clog)
        return adapter, events, outcomes

    async def store_inbound(self, adapter: Adapter, events: list[Event], clog: Any) -> list[InboundOutcome]:
        """Durably store what `adapter` received (one transaction with `clog`), then fire the hooks; both the
        HTTP routes and started adapters' `InboundSink` come here, so both behave alike."""
        for event in events:
            if isinstance(event, Ignored) and event.error and clog is not None:  # where operators look
                clog.error(event.reason)
        outcomes = await self.store.record_inbound(adapter.channel.name, events, clog)
        await self._after_inbound(adapter.channel, outcomes)
        return outcomes

    async def store_fragment(self, adapter: Adapter, fragment: Fragment, join: FragmentJoin, clog: Any
                             ) -> tuple[bool, list[InboundOutcome]]:
        """Durably keep one part of an inbound message of `adapter`'s channel; fire hooks for what it completed."""
        new, outcomes = await self.store.add_fragment(adapter.channel.name, fragment, join, clog)
        await self._after_inbound(adapter.channel, outcomes)
        return new, outcomes

    async def _after_inbound(self, channel: Channel, outcomes: Sequence[InboundOutcome]) -> None:
        for outcome in outcomes:
            event = outcome.event
            if isinstance(event, IncomingMessage) and outcome.created:
                await self._fire(self.pm.hook.smsgate_message_received, message=event, channel=channel)
            elif isinstance(event, StatusUpdate) and outcome.change and outcome.change.applied:
                assert outcome.change.current is not None
                update = replace(event, message_id=outcome.change.message_id)
                await self._notify_status(channel.name, update, outcome.change.previous, outcome.change.current)
            elif isinstance(event, OptOut):
                await self._fire(self.pm.hook.smsgate_opted_out, event=event, channel=channel)

    async def _notify_status(self, channel: str, update: StatusUpdate, previous: Status | None,
                             current: Status) -> None:
        chan = self.config.channels.get(channel)
        if chan is not None:
            await self._fire(self.pm.hook.smsgate_status_changed, update=update, previous=previous,
                             current=current, channel=chan)

    async def _fire(self, hook: Any, **kwargs: Any) -> None:
        # a listener's failure must not undo or block what is already stored
        try:
            results = hook(**kwargs)
        except Exception:
            log.exception("a plugin's %s hook failed", hook.name)
            return
        for value in results:
            try:
                await await_me_maybe(value)
            except Exception:
                log.exception("a plugin's %s hook failed", hook.name)

