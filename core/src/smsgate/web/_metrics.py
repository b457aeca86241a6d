"""Prometheus metrics of one gateway, served at `/metrics` (docs/operations.md lists every one).

Event counters come from an internal plugin on the gateway's own hooks (after_send, status_changed,
message_received, opted_out) and from three direct calls where no hook exists: the traces of a send (answers
by status class, retries, latency), rejected callbacks, and outbox deliveries. The backlog (queue depths and
the age of their oldest item) is read from the store at scrape time, so it is right with several instances on
one database. Each gateway counts in a `CollectorRegistry` of its own: gateways sharing a process (tests,
an app mounting two) never mix their numbers.
"""

from __future__ import annotations

import urllib.parse
import weakref
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .._http._channellog import ChannelLog
from .._models import IncomingMessage, OptOut, OutgoingMessage, SendResult, Status, StatusUpdate, utcnow
from ..config import Channel, GatewaySettings, bearer_token, token_matches
from ..gateway import Channels, Gateway
from ..hookspecs import hookimpl
from ..store import Backlog, Reads

__all__ = ["GatewayMetrics", "install_metrics", "metrics_route", "uninstall_metrics"]

SEND_OUTCOMES = ("accepted", "errored", "failed", "in_doubt")
TENANT_OUTCOMES = ("accepted", "limited", "refused")
REJECT_REASONS = ("400", "401", "403", "404", "405", "413")
# an attacker choosing channel names in URLs must not grow the label set: unknown ones share this label
UNKNOWN_CHANNEL = "(unknown)"
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class GatewayMetrics:
    """The metrics of one gateway in a registry of its own; `render()` is the /metrics body."""

    def __init__(self, channels: Channels, reads: Reads, tenants: Iterable[str] = ()) -> None:
        self.channels = channels
        self.reads = reads
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.messages = Counter("smsgate_messages", "Messages entering a status (incoming: received), per channel "
                                "and direction.", ["channel", "direction", "status"], registry=r)
        self.sends = Counter("smsgate_sends", "Send attempts by outcome: accepted by the aggregator, errored "
                             "(retried later), failed, or in doubt (no answer after the request left).",
                             ["channel", "outcome"], registry=r)
        self.responses = Counter("smsgate_aggregator_responses", "HTTP answers of aggregators to sends by status "
                                 "class; `none` is no answer (refused, timed out).", ["channel", "status_class"],
                                 registry=r)
        self.retries = Counter("smsgate_retries", "Retries: `request` repeats one HTTP request after a retryable "
                               "answer, `attempt` is a worker attempt after the first.", ["channel", "kind"],
                               registry=r)
        self.latency = Histogram("smsgate_send_duration_seconds", "Time of one send attempt, first request to "
                                 "final answer (its retries and throttling included).", ["channel"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.rejected = Counter("smsgate_callbacks_rejected", "Aggregator callbacks refused, by HTTP status.",
                                ["channel", "reason"], registry=r)
        self.opt_outs = Counter("smsgate_opt_outs", "Opt-outs stored (stop callbacks, opted-out send errors).",
                                ["channel"], registry=r)
        self.deliveries = Counter("smsgate_outbox_deliveries", "Webhook and bridge calls by outcome: delivered "
                                  "(2xx), failed (retried later), error (a bug; retried later).",
                                  ["target", "outcome"], registry=r)
        self.failovers = Counter("smsgate_failovers", "Routed messages moved from `channel` to the next channel of "
                                 "their route, by why: link_down or the send's error code.",
                                 ["channel", "to", "reason"], registry=r)
        self.tenant_requests = Counter("smsgate_tenant_messages", "A tenant's new messages through the API and the "
                                       "console: accepted (queued), limited (429, tps or daily_limit), refused "
                                       "(a channel not its own, no route).", ["tenant", "outcome"], registry=r)
        self._backlog = Backlog({}, 0, None)
        r.register(_BacklogCollector(self))
        self._children: dict[tuple[Any, ...], Any] = {}
        for name in channels:  # every series exists from the start, so rate() and alerts see a zero
            for outcome in SEND_OUTCOMES:
                self.sends.labels(name, outcome)
            for reason in REJECT_REASONS:
                self.rejected.labels(name, reason)
            self.latency.labels(name)
        self.tenants = frozenset(tenants)
        for tenant in self.tenants:
            for outcome in TENANT_OUTCOMES:
                self.tenant_requests.labels(tenant, outcome)
        self.listener = _HookListener(self)

    def _child(self, metric: Any, *labels: str) -> Any:
        # labels() validates and locks on every call; events on the hot path reuse the child it returned
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # -- direct calls, where no hook exists ---------------------------------------------------------

    def send_recorded(self, channel: str, attempts: int, log: ChannelLog) -> None:
        """Count one stored send attempt from its channel log: answers, retries and its duration."""
        traces = log.traces
        for i, trace in enumerate(traces):
            code = trace.status_code
            self._child(self.responses, channel, f"{code // 100}xx" if code else "none").inc()
            if i + 1 < len(traces) and (code is None or code >= 500 or code == 429):
                following = traces[i + 1]
                if (following.method, following.url) == (trace.method, trace.url):
                    self._child(self.retries, channel, "request").inc()
        if attempts > 1:
            self._child(self.retries, channel, "attempt").inc()
        self._child(self.latency, channel).observe(max(0.0, (utcnow() - log.created_at).total_seconds()))

    def callback_rejected(self, channel: str, status_code: int) -> None:
        """Count a refused callback; unknown channels share one label."""
        name = channel if channel in self.channels else UNKNOWN_CHANNEL
        reason = str(status_code) if str(status_code) in REJECT_REASONS else "other"
        self._child(self.rejected, name, reason).inc()

    def delivery(self, target: str, outcome: str) -> None:
        """Count one outbox delivery attempt (`delivered`, `failed` or `error`) to `target`."""
        self._child(self.deliveries, _target_label(target), outcome).inc()

    def failover(self, channel: str, to: str, reason: str) -> None:
        """Count a routed message moved from `channel` to `to` (`reason`: link_down or an error code)."""
        self._child(self.failovers, channel, to, reason if len(reason) <= 40 else reason[:40]).inc()

    def tenant(self, tenant: str, outcome: str) -> None:
        """Count one new message a tenant asked for: `accepted`, `limited` or `refused`."""
        if tenant in self.tenants and outcome in TENANT_OUTCOMES:
            self._child(self.tenant_requests, tenant, outcome).inc()

    # -- scraping ---------------------------------------------------------------------------------------

    async def render(self, accept: str = "") -> tuple[bytes, str]:
        """The exposition in the format `accept` asks for (Prometheus text, or OpenMetrics) and its content type,
        with the backlog read from the store now."""
        self._backlog = await self.reads.backlog()
        encoder, content_type = choose_encoder(accept)
        # no await between reading the backlog and rendering: a concurrent scrape cannot swap it in between
        return encoder(self.registry), content_type


def _target_label(target: str) -> str:
    """`bridge:<name>` as is; a webhook by its host only (its URL's path or query may carry a token), a tenant's
    as `webhook@<tenant>:<host>`."""
    kind, _, rest = target.partition(":")
    if kind == "webhook" or kind.startswith("webhook@"):
        return f"{kind}:{urllib.parse.urlsplit(rest).netloc or '?'}"
    return target


def _age(oldest: str | None, now: datetime) -> float:
    if not oldest:
        return 0.0
    return max(0.0, (now - datetime.fromisoformat(oldest)).total_seconds())


class _BacklogCollector(Collector):
    """Queue depths and ages from the backlog `GatewayMetrics.render` read just before."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = weakref.ref(metrics)

    def describe(self) -> list[Metric]:
        return []  # nothing fixed to check for clashes: the series depend on the store

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics()
        if metrics is None:
            return
        backlog, now = metrics._backlog, utcnow()
        info = GaugeMetricFamily("smsgate_channel_info", "Configured channels and their adapter (always 1).",
                                 labels=["channel", "adapter"])
        depth = GaugeMetricFamily("smsgate_queue_depth", "Outgoing messages waiting to be sent (queued or errored).",
                                  labels=["channel"])
        age = GaugeMetricFamily("smsgate_queue_oldest_age_seconds", "Age of the oldest message waiting to be sent "
                                "(0 when none waits).", labels=["channel"])
        for name in metrics.channels:
            info.add_metric([name, metrics.channels.adapter_name(name)], 1)
        for name in sorted(set(metrics.channels) | set(backlog.queued)):
            count, oldest = backlog.queued.get(name, (0, None))
            depth.add_metric([name], count)
            age.add_metric([name], _age(oldest, now))
        yield info
        yield depth
        yield age
        yield GaugeMetricFamily("smsgate_outbox_depth", "Webhook and bridge calls not yet acknowledged.",
                                value=backlog.outbox)
        yield GaugeMetricFamily("smsgate_outbox_oldest_age_seconds", "Age of the oldest unacknowledged webhook or "
                                "bridge call (0 when none waits).", value=_age(backlog.outbox_oldest, now))


class _HookListener:
    """The plugin counting one gateway's hook events; it holds its metrics weakly and ignores other gateways'."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._metrics = weakref.ref(metrics)

    @property
    def alive(self) -> bool:
        """False once its gateway's metrics are gone."""
        return self._metrics() is not None

    def _mine(self, channel: Channel) -> GatewayMetrics | None:
        metrics = self._metrics()
        # the plugin manager is shared by every gateway of the process: count only this gateway's channels
        if metrics is None or not metrics.channels.owns(channel):
            return None
        return metrics

    @hookimpl
    def smsgate_after_send(self, message: OutgoingMessage, result: SendResult, channel: Channel) -> None:
        """Count the attempt by outcome."""
        metrics = self._mine(channel)
        if metrics is not None:
            if result.ok:
                outcome = "accepted"
            elif result.error_code == "read_timeout":
                outcome = "in_doubt"
            else:
                outcome = "errored" if result.status is Status.ERRORED else "failed"
            metrics._child(metrics.sends, channel.name, outcome).inc()

    @hookimpl
    def smsgate_status_changed(self, update: StatusUpdate, previous: Status | None, current: Status,
                               channel: Channel) -> None:
        """Count an outgoing message entering `current`."""
        metrics = self._mine(channel)
        if metrics is not None:
            metrics._child(metrics.messages, channel.name, "out", current.value).inc()

    @hookimpl
    def smsgate_message_received(self, message: IncomingMessage, channel: Channel) -> None:
        """Count an incoming message."""
        metrics = self._mine(channel)
        if metrics is not None:
            metrics._child(metrics.messages, channel.name, "in", "received").inc()

    @hookimpl
    def smsgate_opted_out(self, event: OptOut, channel: Channel) -> None:
        """Count an opt-out."""
        metrics = self._mine(channel)
        if metrics is not None:
            metrics._child(metrics.opt_outs, channel.name).inc()


def install_metrics(gateway: Gateway) -> GatewayMetrics:
    """Count `gateway`'s events from now on (once: a second call returns the same metrics)."""
    if isinstance(gateway.metrics, GatewayMetrics):
        return gateway.metrics
    metrics = GatewayMetrics(gateway.channels, gateway.store, gateway.config.tenants)
    for plugin in gateway.pm.get_plugins():  # listeners of gateways since garbage-collected
        if isinstance(plugin, _HookListener) and not plugin.alive:
            gateway.pm.unregister(plugin)
    gateway.pm.register(metrics.listener, name=f"smsgate-metrics-{id(metrics.listener)}")
    gateway.metrics = metrics
    return metrics


def uninstall_metrics(gateway: Gateway) -> None:
    """Stop counting `gateway`'s events (the app's shutdown)."""
    metrics, gateway.metrics = gateway.metrics, None
    if isinstance(metrics, GatewayMetrics) and gateway.pm.is_registered(metrics.listener):
        gateway.pm.unregister(metrics.listener)


def metrics_route(metrics: GatewayMetrics, settings: GatewaySettings) -> Route:
    """`GET /metrics`: bearer api_token required unless `[gateway] metrics_public`."""

    async def endpoint(request: Request) -> Response:
        if not settings.metrics_public:
            if settings.api_token is None or not settings.api_token.get_secret_value():
                return JSONResponse({"error": "/metrics needs [gateway] api_token (sent as 'Authorization: Bearer "
                                              "<token>'), or metrics_public = true on a private network"}, 403)
            token = bearer_token(request.headers.get("authorization", ""))
            if token is None or not token_matches(settings.api_token, token):
                return JSONResponse({"error": "authentication required: send 'Authorization: Bearer <api_token>'"
                                     if token is None else "invalid bearer token"}, 401,
                                    headers={"WWW-Authenticate": "Bearer"})
        body, content_type = await metrics.render(request.headers.get("accept", ""))
        return Response(body, headers={"Content-Type": content_type})

    return Route("/metrics", endpoint, methods=["GET"])
