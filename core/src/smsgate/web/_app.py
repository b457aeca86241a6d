"""The ASGI app: one place composes the gateway with its platform side (webhooks, bridges), the API, the send
worker and the outbox dispatcher.

Routes: channels' callbacks at `/c/{channel}/{action}`, the API at `/api/v1`, bridges at `/b/{name}/send`,
Twilio's Messages API at `/2010-04-01` (with `[twilio_api]`), `/healthz`. Mountable in another app. With
`background=True` (what `smsgate serve` uses) its lifespan also starts the adapters' long-lived connections (SMPP
binds) and runs the send worker and the outbox dispatcher.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .._adapter import InboundRequest, Reply
from .._models import Event, Ignored, IncomingMessage, OptOut, StatusUpdate
from ..config import same_secret
from ..errors import RequestRejected, StoreUnavailable
from ..gateway import Gateway, open_outbox, open_prober, open_retention, open_worker, platform_of
from ..store import InboundOutcome, Presence
from ._api import api_routes
from ._requests import ClientGone, gone, parse_request

__all__ = ["create_app", "event_json"]

log = logging.getLogger("smsgate.app")
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def event_json(event: Event, outcome: InboundOutcome | None = None) -> dict[str, Any]:
    """The JSON item describing one stored event in a response."""
    if isinstance(event, IncomingMessage):
        return {"type": "msg", "id": event.id, "from": event.from_, "to": event.to, "text": event.text,
                "external_id": event.external_id, "attachments": event.attachments,
                "received_at": event.received_at.isoformat(),
                "duplicate": bool(outcome is not None and not outcome.created)}
    if isinstance(event, StatusUpdate):
        change = outcome.change if outcome else None
        return {"type": "status", "status": event.status.value,
                "message_id": change.message_id if change and change.message_id else event.message_id,
                "external_id": event.external_id, "applied": bool(change and change.applied),
                "known_message": bool(change and change.message_id)}
    if isinstance(event, OptOut):
        return {"type": "event", "event_type": "stop_contact", "address": event.address}
    return {"type": "info", "info": event.reason}


def _error(reason: str, status_code: int) -> JSONResponse:
    return JSONResponse({"message": "Error", "data": [{"type": "error", "error": reason}]}, status_code=status_code)


def _literal(reply: Reply) -> Response:
    return Response(reply.body, status_code=reply.status_code, media_type=reply.content_type,
                    headers=reply.headers or None)


def create_app(gateway: Gateway, *, own_gateway: bool = False, extra_routes: list[BaseRoute] | None = None,
               background: bool = False, metrics: bool = True, console: bool = True) -> Starlette:
    """An ASGI app serving `gateway`; `background` runs the send worker, the outbox and retention, `own_gateway`
    closes it; `metrics` counts events for `/metrics`, `console` serves the web console at `/ui`.

    Everything is composed here, once: each part gets the narrow services it uses (the sending door, the
    store's reads, the channels, the `[gateway]` settings; the console also the store's session sign-outs),
    never the whole gateway. The gateway's store plans the config's webhooks and bridge calls from here on
    (as `open_gateway` does).
    """
    from ._metrics import install_metrics, metrics_route, uninstall_metrics

    settings = gateway.config.gateway
    platform = platform_of(gateway)
    channels, reads = gateway.channels, gateway.store

    async def inbound(request: Request) -> Response:
        channel = request.path_params["channel"]
        action = request.path_params["action"].strip("/")
        adapter = gateway.adapters.get(channel)
        parsed: InboundRequest | None = None
        try:
            route = adapter.routes.get(action) if adapter is not None else None
            parsed = await parse_request(request, gateway.public_url, settings.trust_proxy, settings.max_body_bytes,
                                         raw_form=route is not None and route.raw_form)
            adapter, events, outcomes = await gateway.handle_inbound(channel, action, parsed)
        except ClientGone:
            gone(request)
            return _error("client disconnected", 400)
        except RequestRejected as exc:
            if gateway.metrics is not None:
                gateway.metrics.callback_rejected(channel, exc.status_code)
            # an operator sees every refused callback (a misconfigured aggregator, or someone probing) in one line,
            # unknown channels included, which have no channel log
            reason = adapter.redactor.text(exc.reason) if adapter is not None else exc.reason
            log.warning("callback refused: %s %r -> %d %s", request.method, request.scope["path"][:200],
                        exc.status_code, reason[:300])
            if adapter is not None and parsed is not None:
                custom = adapter.error_reply(action, exc, parsed)
                if custom is not None:
                    return _literal(custom)
                with contextlib.suppress(Exception):  # a rejected request is logged when storage allows
                    clog = adapter.new_log(action)
                    clog.trace(parsed.method, parsed.url, parsed.headers, parsed.body, exc.status_code,
                               elapsed_ms=(time.perf_counter() - parsed.started) * 1000, error=exc.reason)
                    clog.error(exc.reason)
                    await gateway.store.add_log(clog)
            return _error(exc.reason, exc.status_code)
        except StoreUnavailable as exc:  # not stored, so the aggregator must retry: never a 2xx here
            log.error("store unavailable: %s", exc)
            return _error("storage unavailable, retry later", 503)
        custom = adapter.reply(action, events, parsed)
        if custom is not None:
            return _literal(custom)
        kinds = {type(e) for e in events}
        message = ("Message Accepted" if IncomingMessage in kinds else "Status Update Accepted"
                   if StatusUpdate in kinds else "Event Accepted" if OptOut in kinds else
                   "Ignored" if Ignored in kinds or not events else "Accepted")
        return JSONResponse({"message": message, "data": [event_json(o.event, o) for o in outcomes]})

    async def bridge_send(request: Request) -> Response:
        name = request.path_params["bridge"]
        bridge = platform.bridges.get(name)
        if bridge is None:
            known = ", ".join(sorted(platform.bridges)) or "none configured"
            return _error(f"unknown bridge {name!r} (known: {known})", 404)
        try:
            parsed = await parse_request(request, gateway.public_url, settings.trust_proxy, settings.max_body_bytes)
            status_code, body = await bridge.handle_send(gateway, parsed)
        except ClientGone:
            gone(request)
            return _error("client disconnected", 400)
        except RequestRejected as exc:
            return _error(exc.reason, exc.status_code)
        except StoreUnavailable as exc:  # not stored: the platform must retry
            log.error("store unavailable: %s", exc)
            return _error("storage unavailable, retry later", 503)
        return JSONResponse(body, status_code=status_code)

    async def health(request: Request) -> Response:
        # public, so it names nothing unless the caller holds the API token: which channels exist, and why one is
        # down, is for operators. 200 while the database answers (a channel down degrades, the gateway still
        # serves); 503 when it does not, so a load balancer takes the instance out of rotation until it does.
        # A channel is down when its adapter cannot send (a bind) or its link is, by this instance's evidence.
        down = channels.health()
        reachable = await gateway.store.ping()
        status = "unavailable" if not reachable else "degraded" if down else "ok"
        body: dict[str, Any] = {"status": status, "database": "ok" if reachable else "unreachable",
                                "channels_down": len(down)}
        if down and authorized(request):
            body["down"] = down
        return JSONResponse(body, status_code=200 if reachable else 503)

    def observe_tenant(tenant: str, outcome: str) -> None:
        if gateway.metrics is not None:
            gateway.metrics.tenant(tenant, outcome)

    def authorized(request: Request) -> bool:
        token = settings.api_token.get_secret_value() if settings.api_token else ""
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return bool(token) and scheme.lower() == "bearer" and same_secret(given.strip(), token)

    routes: list[BaseRoute] = [
        Route("/healthz", health, methods=["GET"]),
        Route("/c/{channel}/{action:path}", inbound, methods=ALL_METHODS),
        *api_routes(gateway, reads, channels, settings, gateway.config.tenants, observe_tenant),
        Route("/b/{bridge}/send", bridge_send, methods=["GET", "POST", "PUT"]),
        *(extra_routes or []),
    ]
    if platform.twilio is not None:
        from ..platform.twilio import TwilioFront
        from ._twilio import twilio_routes

        # right after the channels' callbacks: one prefix match, so neither the front nor the API pays for a
        # list of routes tried before its own
        front = TwilioFront(gateway.config, gateway, gateway.store, observe_tenant)
        routes.insert(2, twilio_routes(front, platform.twilio_accounts, settings))
    if metrics:
        routes.append(metrics_route(install_metrics(gateway), settings))
    if console:
        from .console import console_mount  # Jinja2 is imported by apps that serve the console only

        routes.append(console_mount(gateway, reads, channels, settings, gateway.store, tenants=gateway.config.tenants,
                                    routed=bool(gateway.config.routes)))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker = outbox = retention = presence = prober = None
        if background:
            await gateway.start_adapters()  # long-lived connections (SMPP binds) live as long as the app
            worker, outbox, retention = open_worker(gateway), open_outbox(gateway), open_retention(gateway)
            prober = open_prober(gateway)
            gateway.links.announce = True  # a serving gateway logs every link going down or up
            app.state.worker, app.state.outbox, app.state.retention = worker, outbox, retention
            app.state.prober = prober
            prober.start()  # first: the links are known before the worker's first round, or soon after
            presence = Presence(gateway.store)  # the database is in use: `smsgate db copy` refuses it meanwhile
            worker.start()
            outbox.start()
            retention.start()
            presence.start()
        try:
            yield
        finally:
            if worker is not None and outbox is not None and retention is not None and presence is not None \
                    and prober is not None:
                await prober.stop()
                await worker.stop()
                await outbox.stop()
                await retention.stop()
                await gateway.stop_adapters()
                await presence.stop()
            if metrics:
                uninstall_metrics(gateway)
            if own_gateway:
                await gateway.close()

    async def store_unavailable(request: Request, exc: Exception) -> Response:
        # any route (the API, a read): nothing was stored, so the caller retries; a 503, never a 500
        log.error("store unavailable: %s", exc)
        return JSONResponse({"error": "storage unavailable, retry later"}, status_code=503,
                            headers={"Retry-After": "5"})

    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={StoreUnavailable: store_unavailable})
    app.state.gateway, app.state.platform = gateway, platform
    return app

