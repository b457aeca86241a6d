"""The gateway: channels bound to adapter instances, the send pipeline and the inbound pipeline.

Send: store the message (queued, claimed in the same write) → `before_send` hooks → the adapter, whose log
marks the message durably before each request leaves → store the outcome → `after_send` hooks and the
platform events of the write. A message routed by its number (`Router`) that its channel provably did not
take (or whose channel's link is down) moves to the next channel of its route in the same claim, at once.
Inbound: the route's handler → store the events (answer only after that) → the platform events. What the
platform hears is decided once, in `smsgate._events`, by the store.
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import httpx
import pluggy

from .. import _events
from .._adapter import Adapter, InboundRequest
from .._events import PlatformEvent
from .._http._channellog import ChannelLog
from .._http._client import HttpClient
from .._models import (
    Event,
    Ignored,
    MessageRecord,
    OptOut,
    OutgoingMessage,
    SendResult,
    Status,
)
from ..config._settings import Channel, Config
from ..errors import ContactStopped, MessageInvalid, RequestRejected, SendError, SentButUnanswered
from ..store import Fragment, FragmentJoin, InboundOutcome, Limits, OutboxPlanner, StatusChange, Store, open_store
from ._channels import Channels
from ._routing import LinkDown, Router

__all__ = ["FINAL_REASON", "IN_DOUBT_REASON", "READ_TIMEOUT_REASON", "ChannelInbound", "Gateway", "SendOutcome",
           "Sending", "resend_id"]

log = logging.getLogger("smsgate")

READ_TIMEOUT_REASON = ("no answer after the request was sent, so the aggregator may have the message; not retried "
                       "automatically to avoid a duplicate SMS (set retry_on_timeout = true on the channel to retry)")
FINAL_REASON = "sent from the command line, which does not retry"
"""Added to a final send's error: kept in the message's history, so `smsgate show` says why nothing retried it."""
IN_DOUBT_REASON = ("the gateway stopped while this message's request was out, so the aggregator may have it; not "
                   "retried automatically to avoid a duplicate SMS (set retry_on_timeout = true on the channel "
                   "to retry)")

# Resends get ids derived from the original's: asking twice (a retried API call, a double-click) queues once.
_RESEND_NAMESPACE = uuid.UUID("6f1c2a9e-8d4b-4f0e-9a57-3c1e5b7d2f10")


def resend_id(original_id: str) -> str:
    """The id a resend of message `original_id` gets (the same every time, so it is queued once)."""
    return str(uuid.uuid5(_RESEND_NAMESPACE, original_id))


async def await_me_maybe(value: Any) -> Any:
    """Await `value` if a hook implementation returned a coroutine (pluggy does not await)."""
    if inspect.isawaitable(value):
        return await value
    return value


class _ClaimLost(Exception):
    """The claim of a send in progress is another worker's now: its request must not go out (not a SendError:
    nothing about the message is recorded)."""


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



class Sending(Protocol):
    """The sending door the API, the console and the CLI use (the `Gateway` is one)."""

    async def prepare(self, channel: str | None, to: str, text: str, *, tenant: str | None = None,
                      **fields: Any) -> OutgoingMessage:
        """An outgoing message for `channel` (None: routed by `to`), `to` normalised; MessageInvalid if it cannot
        be sent (or `tenant` may not use the channel)."""

    async def prepare_resend(self, message_id: str) -> OutgoingMessage:
        """A copy of a failed outgoing message to queue again (KeyError if unknown, MessageInvalid if not failed)."""

    async def enqueue(self, message: OutgoingMessage) -> tuple[MessageRecord, bool]:
        """Queue durably for the worker; a known id returns the stored message and False."""

    async def send(self, message: OutgoingMessage, *, final: bool = False, lease_seconds: float = 300
                   ) -> SendOutcome:
        """Queue and attempt now (a test send; `final`: an errored attempt is failed for good)."""


class Observer(Protocol):
    """What the gateway, the app and the outbox tell the metrics (`smsgate.web._metrics.GatewayMetrics`) where no
    hook exists: each stored send attempt, each refused callback, each outbox delivery attempt."""

    def send_recorded(self, channel: str, attempts: int, log: ChannelLog) -> None:
        """A send attempt was stored; `log` holds its exchanges with the aggregator."""

    def callback_rejected(self, channel: str, status_code: int) -> None:
        """A callback on `channel` was refused with `status_code`."""

    def delivery(self, target: str, outcome: str) -> None:
        """An outbox delivery attempt to `target` ended `delivered`, `failed` or `error`."""

    def failover(self, channel: str, to: str, reason: str) -> None:
        """A routed message left `channel` for `to`; `reason` is `link_down` or the send's error code."""

    def tenant(self, tenant: str, outcome: str) -> None:
        """A tenant asked for a new message: `accepted`, `limited` (its tps or daily_limit) or `refused`."""

class Gateway:
    """Binds a config's channels to adapters, owns the store and the HTTP client, and runs both pipelines.

    `planner` turns each stored platform event into webhook and bridge calls (`smsgate.host.Platform.plan`);
    without one, nothing is planned. `smsgate.host.open_gateway` builds a gateway with its config's planner.
    """

    def __init__(self, config: Config, *, store: Store | None = None, pm: pluggy.PluginManager | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, planner: OutboxPlanner | None = None) -> None:
        if pm is None:
            from ..plugins import load_plugins
            from ..plugins import pm as default_pm

            load_plugins()
            pm = default_pm
        self.config = config
        self.pm = pm
        self.store: Store = store or open_store(config.gateway.database, synchronous=config.gateway.synchronous)
        if planner is not None:
            self.store.set_planner(planner)
        # a store shared by several instances (PostgreSQL) spaces each channel's requests across all of them
        self.http = HttpClient(transport, backend=config.gateway.http_backend,
                               rate=getattr(self.store, "rate_slot", None))
        self.metrics: Observer | None = None  # set by smsgate.web._metrics.install_metrics (create_app does)
        self.public_url = config.gateway.base_url()
        self.adapters: dict[str, Adapter[Any]] = {}
        for name, channel in config.channels.items():
            self.adapters[name] = channel.adapter_cls(channel, self.http, self.public_url)
        self.channels = Channels(self.adapters)
        self.link_down: LinkDown = self.channels.down
        """Why a channel's link is down now, or None: routing and failover ask it. The adapters' `health()` by
        default; a gateway that keeps link states elsewhere (probes, the store) assigns its own."""
        self.router = Router(config.routes, self.channels, lambda name: self.link_down(name))
        self.platform: Any = None  # the platform side (smsgate.platform.Platform), set by `open_gateway`
        secrets = set(config.secrets()).union(*(a.secrets() for a in self.adapters.values()))
        for adapter in self.adapters.values():
            adapter.share_secrets(secrets)
            self.pm.hook.smsgate_adapter_started(adapter=adapter)

    async def close(self) -> None:
        """Stop the adapters (closing any connection they opened), then close pooled connections and the store."""
        await self.stop_adapters()
        await self.http.aclose()
        await self.store.close()

    # -- adapters with connections of their own ----------------------------------------------------------

    async def start_adapters(self) -> None:
        """Give each adapter its channel's inbound sink and let it open long-lived connections (`smsgate serve`)."""
        for name, adapter in self.adapters.items():
            try:
                await adapter.start(ChannelInbound(self, adapter))
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
        """The channels that cannot send now, with the reason each adapter gives (e.g. its bind is down)."""
        return self.channels.health()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def adapter(self, channel: str) -> Adapter[Any]:
        """The adapter serving `channel`, or a ConfigError naming the known channels."""
        try:
            return self.adapters[channel]
        except KeyError:
            self.config.channel(channel)  # raises with the list of known channels
            raise

    # -- sending ----------------------------------------------------------------------------------

    async def prepare(self, channel: str | None, to: str, text: str, *, tenant: str | None = None,
                      channels: Sequence[str] | None = None, **fields: Any) -> OutgoingMessage:
        """Build an outgoing message for `channel` with `to` normalised; MessageInvalid if it cannot be sent.

        Without a channel the routes pick one by the number (MessageInvalid when none matches), which
        normalises it and sends it, failing over to the route's next channels. `tenant` (a `[tenants.<name>]`)
        confines both to its channels, as `channels` does (a bridge's): another channel is refused as unknown.
        """
        allowed: Sequence[str] | None = channels
        if tenant is not None:
            allowed = self.config.tenants[tenant].channels
        route: list[str] = []
        if channel is None:
            choice = self.router.choose(to, allowed)
            channel, number = choice.channel, choice.to
            # kept only when there is somewhere to fail over to: the worker takes a down channel's routed
            # messages to move them, and one with a single candidate could only wait there
            route = list(choice.order) if len(choice.order) > 1 else []
            adapter = self.adapter(channel)
        else:
            if allowed is not None and channel not in allowed:
                raise MessageInvalid(f"unknown channel {channel!r} (known: {', '.join(sorted(allowed))})",
                                     code="unknown_channel")
            adapter = self.adapter(channel)
            number = adapter.outgoing_number(to)
        message = OutgoingMessage(channel=channel, to=number, text=text, from_=adapter.settings.address,
                                  route=route, tenant=tenant, **fields)
        if not message.text and not message.attachments:
            raise MessageInvalid("nothing to send: the text is empty and there are no attachments")
        return message

    def limits(self, message: OutgoingMessage) -> Limits | None:
        """The limits a new message counts against: its tenant's `tps` and `daily_limit`, if it has any."""
        if message.tenant is None:
            return None
        tenant = self.config.tenants.get(message.tenant)
        if tenant is None or (tenant.tps is None and tenant.daily_limit is None):
            return None
        return Limits(message.tenant, tenant.tps, tenant.daily_limit)

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
            id=resend_id(original.id), attachments=list(original.attachments),
            quick_replies=list(original.quick_replies), high_priority=original.high_priority,
            metadata={**original.metadata, "resend_of": original.id}, route=list(original.route),
            tenant=original.tenant if original.tenant in self.config.tenants else None)

    async def enqueue(self, message: OutgoingMessage) -> tuple[MessageRecord, bool]:
        """Durably queue `message`; an id seen before returns the stored message and False. A new message of a
        tenant counts against its limits: LimitReached, nothing queued, past them."""
        self.adapter(message.channel)
        added = await self.store.add_outgoing(message, limits=self.limits(message))
        await self.announce(added.platform_events)
        return added.record, added.created

    async def send(self, message: OutgoingMessage, *, final: bool = False, lease_seconds: float = 300) -> SendOutcome:
        """Queue `message` (idempotently by id) and attempt it now unless it was already sent or taken.

        `final` (the command line's test sends): an attempt that ends `errored` is failed at once, its error kept
        and `FINAL_REASON` added, so that no worker sends it later, after a user who saw it fail sent it again.
        A message a running worker claimed meanwhile stays that worker's.
        """
        self.adapter(message.channel)
        added = await self.store.add_outgoing(message, claim_for=lease_seconds, limits=self.limits(message))
        await self.announce(added.platform_events)
        if not added.claimed:  # already wired or final, or another worker holds it
            return SendOutcome(added.record, None, False)
        outcome = await self._deliver(added.record, message)
        record = outcome.message
        if not final or not outcome.sent or record.status != Status.ERRORED.value:
            return outcome
        reason = f"{record.error_reason}; {FINAL_REASON}" if record.error_reason else FINAL_REASON
        change = await self.fail(record.id, record.error_code or "errored", reason)
        if not change.applied:
            return outcome
        stored = change.record or await self.store.get_message(record.id)
        assert stored is not None
        return replace(outcome, message=stored)

    async def send_claimed(self, claimed: MessageRecord) -> SendOutcome:
        """Send once a message the store claimed for this gateway (`Store.claim_due`: the worker's round)."""
        return await self._deliver(claimed, None)

    async def _deliver(self, claimed: MessageRecord, message: OutgoingMessage | None) -> SendOutcome:
        if message is None:
            message = OutgoingMessage(channel=claimed.channel, to=claimed.to, text=claimed.text, id=claimed.id,
                                      from_=claimed.from_, attachments=claimed.attachments,
                                      metadata=claimed.metadata, quick_replies=claimed.quick_replies,
                                      high_priority=claimed.high_priority, route=claimed.route,
                                      tenant=claimed.tenant)
        tried: list[str] = []
        while True:
            adapter = self.adapter(message.channel)
            channel = adapter.channel
            tried.append(channel.name)
            following = self._following(message, tried)
            down = self.link_down(channel.name) if following is not None else None
            if following is not None and down is not None:
                # its link is down and another channel of its route is up: moved without an attempt
                moved = await self._reroute(message, following, None, "link_down",
                                            f"channel {channel.name}'s link is down ({down})")
                if moved is None:
                    return await self._current(message.id)
                message = moved
                continue
            clog = adapter.new_log("send", message.id, going_out=self._marker(message.id))
            try:
                result, untaken = await self._call_adapter(adapter, channel, message, clog)
            except _ClaimLost:
                # this gateway stalled past its lease and another took the message over: it sends it, and
                # records the outcome; nothing left here and nothing is recorded
                log.warning("message %s: claim lost to another worker before its request left; not sent here",
                            message.id)
                return await self._current(message.id)
            if following is not None and untaken:
                # no request of this attempt can have reached the aggregator: the next channel sends it now
                if self.metrics is not None:
                    self.metrics.send_recorded(channel.name, claimed.attempts, clog)
                await self._fire(self.pm.hook.smsgate_after_send, message=message, result=result, channel=channel)
                moved = await self._reroute(message, following, clog, result.error_code or "errored",
                                            result.error_reason or "the send failed")
                if moved is None:
                    return await self._current(message.id)
                message = moved
                continue
            break
        change = await self.store.record_send(message.id, result, clog)
        if self.metrics is not None:
            self.metrics.send_recorded(channel.name, claimed.attempts, clog)
        await self._fire(self.pm.hook.smsgate_after_send, message=message, result=result, channel=channel)
        await self.announce(change.platform_events)
        stored = change.record or await self.store.get_message(message.id)
        assert stored is not None
        return SendOutcome(stored, result, True)

    async def _current(self, message_id: str) -> SendOutcome:
        current = await self.store.get_message(message_id)
        assert current is not None
        return SendOutcome(current, None, False)

    def _following(self, message: OutgoingMessage, tried: list[str]) -> tuple[str, str, str] | None:
        """The channel a routed message moves to from its current one: the next of its route not tried in this
        attempt whose link is up and that can read its number, as (channel, number, sender); None if none."""
        route = message.route
        if len(route) < 2:
            return None
        at = route.index(message.channel) if message.channel in route else -1
        for name in route[at + 1:] + route[:at + 1]:
            adapter = self.adapters.get(name)
            if name in tried or adapter is None or self.link_down(name) is not None:
                continue
            try:
                number = adapter.outgoing_number(message.to)
            except MessageInvalid:
                continue
            return name, number, adapter.settings.address
        return None

    async def _reroute(self, message: OutgoingMessage, following: tuple[str, str, str], clog: ChannelLog | None,
                       code: str, reason: str) -> OutgoingMessage | None:
        """Move `message` to the `following` channel in its store row (an `errored` history row for the channel
        it leaves, saying why) and announce it; None when the claim is no longer this gateway's."""
        left = message.channel
        name, number, sender = following
        change = await self.store.reroute(message.id, name, number, sender, error_code=code,
                                          error_reason=f"{reason}; moved to channel {name}", log=clog)
        if not change.applied:
            return None
        log.info("message %s: channel %s left for %s (%s)", message.id, left, name, code)
        if self.metrics is not None:
            self.metrics.failover(left, name, code)
        await self.announce(change.platform_events)
        return replace(message, channel=name, to=number, from_=sender)

    def _marker(self, message_id: str) -> Any:
        """The durable "a request of this send is leaving" mark, made once per attempt (`ChannelLog.going_out`);
        it stops the attempt (`_ClaimLost`) when the claim is no longer this gateway's."""
        marked = False

        async def going_out() -> None:
            nonlocal marked
            if marked:
                return
            marked = True
            try:
                held = await self.store.mark_sending(message_id)
            except Exception:  # the send itself must not fail on it; a crash now would resend, as before marks
                log.exception("cannot mark %s as being sent", message_id)
                return
            if held is False:
                raise _ClaimLost(message_id)

        return going_out

    async def fail(self, message_id: str, error_code: str, error_reason: str, *, held: bool = False) -> StatusChange:
        """Give up on a queued or errored message nobody holds (with `held`: one this gateway claimed and did not
        attempt): `failed` with the reason, hooks fired."""
        change = await self.store.fail_message(message_id, error_code, error_reason, held=held)
        await self.announce(change.platform_events)
        return change

    async def _call_adapter(self, adapter: Adapter[Any], channel: Channel, message: OutgoingMessage,
                         clog: ChannelLog) -> tuple[SendResult, bool]:
        """The attempt's result, and whether it proves the aggregator did not take the message: the error says so
        (`SendError.not_taken`) and every request that left was refused (`ChannelLog.untaken`)."""
        verdict = await await_me_maybe(self.pm.hook.smsgate_before_send(message=message, channel=channel))
        if isinstance(verdict, str):
            clog.error(f"vetoed: {verdict}")
            return SendResult(Status.FAILED, error_code="vetoed", error_reason=verdict), False
        if isinstance(verdict, OutgoingMessage):
            message = replace(verdict, id=message.id, channel=message.channel)
        try:
            return await adapter.send(message, clog), False
        except _ClaimLost:
            raise
        except SendError as exc:
            if not clog.errors:
                clog.error(f"{exc.code}: {exc.reason}")
            if isinstance(exc, SentButUnanswered) and not channel.settings.retry_on_timeout:
                # the aggregator may have it: final now, so neither the worker nor a user's retry resends it
                return SendResult(Status.FAILED, error_code=exc.code, error_reason=READ_TIMEOUT_REASON), False
            events: list[Event] = []
            if isinstance(exc, ContactStopped):
                events.append(OptOut(message.channel, message.to, reason=exc.reason))
            result = SendResult(Status.ERRORED if exc.retryable else Status.FAILED,
                                error_code=exc.ext_code or exc.code, error_reason=adapter.redactor.text(exc.reason),
                                retry_after=exc.retry_after, events=events)
            return result, exc.not_taken and clog.untaken and not events
        except Exception as exc:  # an adapter bug is recorded, never allowed to lose the message or crash us
            # no traceback: its frames and message may hold credentials; the redacted reason is stored
            reason = adapter.redactor.text(f"{type(exc).__name__}: {exc}")
            log.error("adapter %s crashed sending %s: %s", adapter.name, message.id, reason)
            clog.error(f"adapter_error: {type(exc).__name__}: {exc}")
            return SendResult(Status.FAILED, error_code="adapter_error", error_reason=reason), False

    # -- receiving --------------------------------------------------------------------------------

    async def handle_inbound(self, channel_name: str, action: str, request: InboundRequest
                             ) -> tuple[Adapter[Any], list[Event], list[InboundOutcome]]:
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
        if request.method == "HEAD":  # a HEAD asks whether the route exists: it must not store anything
            return adapter, [], []
        clog = adapter.new_log(action)
        events = await getattr(adapter, route.handler)(request)
        clog.trace(request.method, request.url, request.headers, request.body, 200,
                   elapsed_ms=(time.perf_counter() - request.started) * 1000)
        return adapter, events, await self.receive(channel_name, events, clog)

    async def receive(self, channel_name: str, events: Sequence[Event], clog: ChannelLog | None
                      ) -> list[InboundOutcome]:
        """Store what a channel received (any transport: a callback, a bind's PDUs), then announce it; returns
        only after the commit, so the aggregator may be acknowledged then."""
        if clog is not None:
            for event in events:
                if isinstance(event, Ignored) and event.error:  # `smsgate logs --errors` is where operators look
                    clog.error(event.reason)
        outcomes = await self.store.record_inbound(channel_name, events, clog)
        await self.announce([e for outcome in outcomes for e in outcome.platform_events])
        return outcomes

    async def receive_parts(self, channel_name: str, fragment: Fragment, join: FragmentJoin,
                            clog: ChannelLog | None) -> tuple[bool, list[InboundOutcome]]:
        """Durably keep one part of an inbound message of `channel_name`; announce what the part completed."""
        new, outcomes = await self.store.add_fragment(channel_name, fragment, join, clog)
        await self.announce([e for outcome in outcomes for e in outcome.platform_events])
        return new, outcomes

    # -- telling plugins ------------------------------------------------------------------------------

    async def announce(self, events: Sequence[PlatformEvent]) -> None:
        """Fire the plugin hook of each platform event a write made, in order (webhooks were planned from the
        same events in the write's own transaction)."""
        for event in events:
            channel = self.config.channels.get(event.channel)
            if channel is None:  # a message of a channel since removed from the config
                continue
            subject = event.subject
            if event.type == _events.RECEIVED:
                await self._fire(self.pm.hook.smsgate_message_received, message=subject, channel=channel)
            elif event.type == _events.STATUS_CHANGED:
                await self._fire(self.pm.hook.smsgate_status_changed, update=subject, previous=event.previous,
                                 current=event.current, channel=channel)
            elif event.type == _events.OPTED_OUT:
                await self._fire(self.pm.hook.smsgate_opted_out, event=subject, channel=channel)

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


class ChannelInbound:
    """The `InboundSink` a started adapter gets: the gateway's inbound pipeline, bound to its own channel."""

    def __init__(self, gateway: Gateway, adapter: Adapter[Any]) -> None:
        self.gateway = gateway
        self.adapter = adapter
        self.channel = adapter.channel.name

    async def __call__(self, events: Sequence[Event], log: ChannelLog | None = None) -> list[InboundOutcome]:
        """Store `events` (and `log`) in one transaction, then fire the hooks; returns after the commit."""
        return await self.gateway.receive(self.channel, self.adapter.mask_events(events), log)

    async def fragment(self, fragment: Fragment, join: FragmentJoin, log: ChannelLog | None = None
                       ) -> tuple[bool, list[InboundOutcome]]:
        """Keep one part durably; the part that completes the message stores `join(parts)`."""
        return await self.gateway.receive_parts(
            self.channel, fragment, lambda parts: self.adapter.mask_events(join(parts)), log)

    async def known(self, external_ids: Sequence[str]) -> set[str]:
        """Which of `external_ids` this channel already stored as incoming messages."""
        return await self.gateway.store.known_inbound(self.channel, external_ids)

    async def log(self, log: ChannelLog) -> None:
        """Store a channel log on its own."""
        await self.gateway.store.add_log(log)

    async def lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew this channel's lease `name` for `holder`."""
        return await self.gateway.store.lease(f"{self.channel}:{name}", holder, seconds)

    async def release(self, name: str, holder: str) -> None:
        """Give this channel's lease `name` up if `holder` holds it."""
        await self.gateway.store.release(f"{self.channel}:{name}", holder)
