"""The ASGI app: channels' inbound routes at `/c/{channel}/{action}`, the API at `/api/v1`, bridges at `/b/{name}`.

Mountable in another app. With `background=True` (what `smsgate serve` uses) its lifespan also starts the
adapters (long-lived connections such as SMPP binds) and runs the send worker and the outbox dispatcher.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._adapter import InboundRequest, Reply
from ._errors import RequestRejected
from ._gateway import Gateway
from ._models import Event, Ignored, IncomingMessage, OptOut, StatusUpdate
from ._outbox import OutboxDispatcher
from ._store import InboundOutcome
from ._worker import SendWorker

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


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or a 413 as soon as it grows past `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise RequestRejected(f"body larger than {limit} bytes", 413)
        except ValueError:
            raise RequestRejected("invalid Content-Length header") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestRejected(f"body larger than {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_request(request: Request, public_url: str, trust_proxy: bool, limit: int) -> InboundRequest:
    """Turn a Starlette request into an `InboundRequest`, with the URL as the aggregator called it."""
    body = await read_body(request, limit)
    headers = {k.lower(): v for k, v in request.headers.items()}
    query_string = request.scope.get("query_string", b"").decode("latin-1")
    query = urllib.parse.parse_qsl(query_string, keep_blank_values=True)
    root = request.scope.get("root_path", "")
    # the path as sent on the wire (still percent-encoded): signatures are computed over that form
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else urllib.parse.quote(request.scope["path"])
    if root and path.startswith(root):  # Starlette keeps the mount prefix in `path`
        path = path[len(root):]
    if trust_proxy:
        proto = headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
        host = headers.get("x-forwarded-host", headers.get("host", request.url.netloc)).split(",")[0].strip()
        base = f"{proto}://{host}{root}"
    else:
        base = public_url  # the URL the aggregator was told to call, whatever proxies sit in between
    url = base + path + (f"?{query_string}" if query_string else "")
    form: list[tuple[str, str]] = []
    files: dict[str, bytes] = {}
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if body and ctype == "application/x-www-form-urlencoded":
        try:
            form = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise RequestRejected("form body is not valid UTF-8") from None
    elif body and ctype == "multipart/form-data":
        async def stream() -> AsyncGenerator[bytes, None]:
            yield body

        try:
            data = await MultiPartParser(request.headers, stream(), max_files=20, max_fields=1000).parse()
        except (MultiPartException, ValueError, UnicodeDecodeError) as exc:
            raise RequestRejected(f"invalid multipart body: {exc}") from None
        for key, value in data.multi_items():
            if isinstance(value, UploadFile):
                files[key] = await value.read()
            else:
                form.append((key, value))
    return InboundRequest(method=request.method, url=url, headers=headers, query=query, body=body, form=form,
                          files=files)


def create_app(gateway: Gateway, *, own_gateway: bool = False, extra_routes: list[BaseRoute] | None = None,
               background: bool = False) -> Starlette:
    """An ASGI app serving `gateway`; `background` runs the send worker and outbox, `own_gateway` closes it."""
    from ._api import api_routes  # it builds on this module's helpers

    settings = gateway.config.gateway

    async def inbound(request: Request) -> Response:
        channel = request.path_params["channel"]
        action = request.path_params["action"].strip("/")
        adapter = gateway.adapters.get(channel)
        parsed: InboundRequest | None = None
        try:
            parsed = await parse_request(request, gateway.public_url, settings.trust_proxy, settings.max_body_bytes)
            adapter, events, outcomes = await gateway.handle_inbound(channel, action, parsed)
        except RequestRejected as exc:
            if adapter is not None and parsed is not None:
                custom = adapter.error_reply(action, exc, parsed)
                if custom is not None:
                    return _literal(custom)
                with contextlib.suppress(Exception):  # a rejected request is logged when storage allows
                    clog = adapter.new_log(action)
                    clog.trace(parsed.method, parsed.url, parsed.headers, parsed.body, exc.status_code,
                               error=exc.reason)
                    clog.error(exc.reason)
                    await gateway.store.add_log(clog)
            return _error(exc.reason, exc.status_code)
        except sqlite3.Error as exc:  # not stored, so the aggregator must retry: never a 2xx here
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
        bridge = gateway.bridges.get(name)
        if bridge is None:
            known = ", ".join(sorted(gateway.bridges)) or "none configured"
            return _error(f"unknown bridge {name!r} (known: {known})", 404)
        try:
            parsed = await parse_request(request, gateway.public_url, settings.trust_proxy, settings.max_body_bytes)
            status_code, body = await bridge.handle_send(gateway, parsed)
        except RequestRejected as exc:
            return _error(exc.reason, exc.status_code)
        except sqlite3.Error as exc:  # not stored: the platform must retry
            log.error("store unavailable: %s", exc)
            return _error("storage unavailable, retry later", 503)
        return JSONResponse(body, status_code=status_code)

    async def health(request: Request) -> Response:
        # 200 either way: the gateway itself serves; a channel whose connection is down is listed with why
        down = gateway.health()
        return JSONResponse({"status": "degraded" if down else "ok", "channels": sorted(gateway.adapters),
                             "down": down})

    routes: list[BaseRoute] = [
        Route("/healthz", health, methods=["GET"]),
        Route("/c/{channel}/{action:path}", inbound, methods=ALL_METHODS),
        *api_routes(gateway),
        Route("/b/{bridge}/send", bridge_send, methods=["GET", "POST", "PUT"]),
        *(extra_routes or []),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker = outbox = None
        if background:
            await gateway.start_adapters()  # long-lived connections (SMPP binds) live as long as the app
            worker, outbox = SendWorker(gateway), OutboxDispatcher(gateway)
            app.state.worker, app.state.outbox = worker, outbox
            worker.start()
            outbox.start()
        try:
            yield
        finally:
            if worker is not None and outbox is not None:
                await worker.stop()
                await outbox.stop()
                await gateway.stop_adapters()
            if own_gateway:
                await gateway.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.gateway = gateway
    return app

