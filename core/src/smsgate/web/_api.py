"""The outbound HTTP API (`/api/v1`): queue messages for the send worker, read them back, and its OpenAPI.

Every route but the OpenAPI document needs `Authorization: Bearer <token>`: the `[gateway] api_token` (the
operator, who sees everything) or a tenant's token (`[tenants.<name>]`: only its channels' messages, sends only
on its channels, its own limits). Without any configured token the API refuses every request: it is never open.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .. import _json as strict_json
from .._models import MessageRecord, Status
from ..config import GatewaySettings, TenantSettings, bearer_token
from ..errors import ConfigError, LimitReached, MessageInvalid, RequestRejected
from ..gateway import Channels, Sending
from ..store import Reads
from ._callers import Caller, Callers
from ._requests import read_body

__all__ = ["OPENAPI", "SendRequest", "api_routes"]

PREFIX = "/api/v1"
MAX_LIMIT = 1000
MAX_METADATA_BYTES = 64 * 1024
_STATUSES = sorted({s.value for s in Status} | {"received"})


class SendRequest(BaseModel):
    """The body of `POST /api/v1/messages`."""

    model_config = ConfigDict(extra="forbid")

    channel: str | None = Field(None, min_length=1, description="Name of the channel to send through; omitted: "
                                                                "the first [[routes]] entry matching `to` picks one.")
    to: str = Field(min_length=1, description="Recipient: E.164, or local to the channel's country.")
    text: str = Field("", description="Message text (may be empty when there are attachments).")
    id: uuid.UUID | None = Field(None, description="Your UUID for the message: the same id is queued only once.")
    attachments: list[str] = Field(default_factory=list, description="Attachment URLs, optionally `mime/type:url`.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Yours: stored and echoed in webhooks "
                                     f"(at most {MAX_METADATA_BYTES // 1024} KiB as JSON).")
    quick_replies: list[str] = Field(default_factory=list, description="Reply options, for adapters that send them.")
    high_priority: bool = Field(False, description="Ask the aggregator for priority delivery where it supports it.")

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(strict_json.dumps(value).encode()) > MAX_METADATA_BYTES:
            raise ValueError(f"larger than {MAX_METADATA_BYTES // 1024} KiB as JSON")
        return value

    @field_validator("id", mode="before")
    @classmethod
    def _uuid_string(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError("must be a UUID string")
        return value


def _reject(reason: str, status_code: int, **headers: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status_code, headers=headers or None)


def _message_json(record: MessageRecord, *, detail: bool = False) -> dict[str, Any]:
    data = record.as_dict()
    data.pop("sending_at", None)  # internal crash-recovery state, not part of the API
    if not detail:
        data.pop("history", None)  # only the detail route loads it: an empty list would mislead
    return data


def api_routes(sending: Sending, reads: Reads, channels: Channels, settings: GatewaySettings,
               tenants: Mapping[str, TenantSettings] | None = None,
               observe: Callable[[str, str], None] | None = None) -> list[BaseRoute]:
    """The API's routes: messages are queued through `sending` and read from `reads`; `tenants` may call it with
    their own tokens, each confined to its channels; `observe(tenant, outcome)` hears each tenant's new message
    (`accepted`, `limited`, `refused`: the metrics)."""
    callers = Callers(settings, tenants or {})

    def authorize(request: Request) -> Caller | JSONResponse:
        if not callers.enabled:
            return _reject("the API is disabled: set [gateway] api_token (or SMSGATE_GATEWAY__API_TOKEN) and send "
                           "it as 'Authorization: Bearer <token>'", 403)
        token = bearer_token(request.headers.get("authorization", ""))
        if token is None:
            return _reject("authentication required: send 'Authorization: Bearer <api_token>'", 401,
                           **{"WWW-Authenticate": "Bearer"})
        caller = callers.who(token)
        if caller is None:
            return _reject("invalid bearer token", 401, **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return caller

    def told(caller: Caller, outcome: str) -> None:
        if observe is not None and caller.tenant is not None:
            observe(caller.tenant, outcome)

    def unknown_channel(caller: Caller, name: str) -> str:
        if caller.channels is None:
            return channels.unknown(name)
        return f"unknown channel {name!r} (known: {', '.join(sorted(caller.channels))})"

    async def visible(caller: Caller, message_id: str) -> MessageRecord | None:
        """The message if this caller may see it: another tenant's channel is the same as no such message."""
        record = await reads.get_message(message_id)
        return record if record is not None and caller.sees(record.channel) else None

    async def create(request: Request) -> Response:
        caller = authorize(request)
        if isinstance(caller, JSONResponse):
            return caller
        try:
            body = await read_body(request, settings.max_body_bytes)
            try:
                raw = strict_json.loads(body)
            except strict_json.JSONRejected as exc:  # refused before anything is stored: nothing to render later
                raise RequestRejected(f"body is not valid JSON: {exc}") from None
            if not isinstance(raw, dict):
                raise RequestRejected('the body must be a JSON object such as {"channel": "ex", "to": "+250…", '
                                      '"text": "hi"}')
            try:
                req = SendRequest.model_validate(raw)
            except ValidationError as exc:
                reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                                    for e in exc.errors())
                raise RequestRejected(reasons, 422) from None
            if req.channel is not None and (req.channel not in channels or not caller.sees(req.channel)):
                told(caller, "refused")
                raise RequestRejected(unknown_channel(caller, req.channel), 422)
            fields: dict[str, Any] = {"attachments": req.attachments, "metadata": req.metadata,
                                      "quick_replies": req.quick_replies, "high_priority": req.high_priority}
            if req.id is not None:
                fields["id"] = str(req.id)
                known_message = await reads.get_message(str(req.id))
                if known_message is not None:  # idempotent: the stored message wins, nothing is queued again
                    if not caller.sees(known_message.channel):
                        raise RequestRejected(f"id {req.id} is taken by another message: use a new one", 409)
                    return JSONResponse(_message_json(known_message), status_code=200)
            try:
                message = await sending.prepare(req.channel, req.to, req.text, tenant=caller.tenant, **fields)
            except MessageInvalid as exc:
                told(caller, "refused")
                raise RequestRejected(exc.reason, 422) from None
            try:
                record, created = await sending.enqueue(message)
            except LimitReached as exc:
                told(caller, "limited")
                wait = str(max(1, math.ceil(exc.retry_after)))
                return _reject(exc.reason, 429, **{"Retry-After": wait})
        except RequestRejected as exc:
            return _reject(exc.reason, exc.status_code)
        except ConfigError as exc:
            return _reject(str(exc), 422)
        if created:
            told(caller, "accepted")
        return JSONResponse(_message_json(record), status_code=202 if created else 200)

    async def listing(request: Request) -> Response:
        caller = authorize(request)
        if isinstance(caller, JSONResponse):
            return caller
        query = request.query_params
        unknown = set(query) - {"channel", "status", "direction", "limit", "cursor"}
        if unknown:
            return _reject(f"unknown query parameter(s) {', '.join(sorted(unknown))}", 400)
        status = query.get("status") or None
        if status is not None and status not in _STATUSES:
            return _reject(f"unknown status {status!r} (one of {', '.join(_STATUSES)})", 400)
        direction = query.get("direction") or None
        if direction not in (None, "in", "out"):
            return _reject("direction must be 'in' or 'out'", 400)
        try:
            limit = int(query.get("limit", "50"))
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            return _reject(f"limit must be an integer from 1 to {MAX_LIMIT}", 400)
        try:
            page = await reads.find_messages(channel=query.get("channel") or None, status=status,
                                             direction=direction, limit=limit, cursor=query.get("cursor") or None,
                                             channels=caller.listing)
        except ValueError:
            return _reject("invalid cursor: pass next_cursor from the previous page as is", 400)
        return JSONResponse({"messages": [_message_json(r) for r in page.messages],
                             "next_cursor": page.next_cursor})

    async def detail(request: Request) -> Response:
        caller = authorize(request)
        if isinstance(caller, JSONResponse):
            return caller
        record = await visible(caller, request.path_params["id"])
        if record is None:
            return _reject(f"no message with id {request.path_params['id']!r}", 404)
        return JSONResponse(_message_json(record, detail=True))

    async def resend(request: Request) -> Response:
        caller = authorize(request)
        if isinstance(caller, JSONResponse):
            return caller
        message_id = request.path_params["id"]
        try:
            if caller.tenant is not None and await visible(caller, message_id) is None:
                raise KeyError(message_id)
            message = await sending.prepare_resend(message_id)
        except KeyError:
            return _reject(f"no message with id {message_id!r}", 404)
        except MessageInvalid as exc:
            return _reject(exc.reason, 409)
        except ConfigError as exc:
            return _reject(str(exc), 409)
        if caller.tenant is not None:  # the copy is the tenant's: its limits apply
            message.tenant = caller.tenant
        try:
            record, created = await sending.enqueue(message)
        except LimitReached as exc:
            told(caller, "limited")
            return _reject(exc.reason, 429, **{"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
        return JSONResponse(_message_json(record), status_code=202 if created else 200)

    async def openapi(request: Request) -> Response:
        return JSONResponse(OPENAPI)

    return [
        Route(f"{PREFIX}/messages", create, methods=["POST"]),
        Route(f"{PREFIX}/messages", listing, methods=["GET"]),
        Route(f"{PREFIX}/messages/{{id}}", detail, methods=["GET"]),
        Route(f"{PREFIX}/messages/{{id}}/resend", resend, methods=["POST"]),
        Route(f"{PREFIX}/openapi.json", openapi, methods=["GET"]),
    ]


# -- the OpenAPI document (hand-written; a test checks it lists every served route) ---------------------

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_HISTORY = {"type": "object", "properties": {
    "status": {"type": "string"}, "applied": {"type": "boolean"}, "channel": {"type": "string"},
    "external_id": {"type": ["string", "null"]},
    "error_code": {"type": ["string", "null"]}, "error_reason": {"type": ["string", "null"]},
    "at": {"type": "string", "format": "date-time"}}}
_MESSAGE = {"type": "object", "required": ["id", "channel", "direction", "status"], "properties": {
    "id": {"type": "string"}, "channel": {"type": "string"}, "direction": {"type": "string", "enum": ["in", "out"]},
    "to": {"type": "string"}, "from": {"type": "string"}, "text": {"type": "string"},
    "status": {"type": "string", "enum": _STATUSES},
    "external_ids": {"type": "array", "items": {"type": "string"}},
    "attachments": {"type": "array", "items": {"type": "string"}},
    "metadata": {"type": "object"}, "segments": {"type": "integer"},
    "quick_replies": {"type": "array", "items": {"type": "string"}}, "high_priority": {"type": "boolean"},
    "attempts": {"type": "integer", "description": "Send attempts so far (each with the channel's own retries)."},
    "error_code": {"type": ["string", "null"]}, "error_reason": {"type": ["string", "null"]},
    "next_attempt_at": {"type": ["string", "null"], "format": "date-time",
                        "description": "An errored message is not retried before this time."},
    "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
    "route": {"type": "array", "items": {"type": "string"},
              "description": "A message routed by its number: its channels in failover order (empty otherwise)."},
    "tenant": {"type": ["string", "null"], "description": "The tenant whose request queued it."},
    "history": {"type": "array", "items": _HISTORY, "description": "Every status report, in order (detail only); "
                "`channel` says which channel each is about (a routed message moves on failover)."}}}


def _error_responses(*codes: int) -> dict[str, Any]:
    reasons = {400: "Bad request (the reason says why)", 401: "Missing or wrong bearer token",
               403: "The API is disabled: no api_token is configured", 404: "Not found",
               409: "Not in a state that allows this (the reason says why)",
               413: "Body too large",
               422: "Invalid message (unknown channel, no route for the number, invalid number, bad field)",
               429: "A tenant's tps or daily_limit is reached: retry after the Retry-After header's seconds"}
    return {str(c): {"description": reasons[c], "content": {"application/json": {"schema": _ERROR}}} for c in codes}


_SEND_SCHEMA = SendRequest.model_json_schema()
_SEND_SCHEMA["properties"]["id"] = {"type": "string", "format": "uuid",
                                    "description": SendRequest.model_fields["id"].description}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "smsgate API", "version": "1.0.0",
             "description": "Queue SMS for sending and read their status. Events come back as signed webhooks."},
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                       "description": "The [gateway] api_token (everything), or a tenant's "
                                                      "token (its channels only)."}},
        "schemas": {"SendRequest": _SEND_SCHEMA, "Message": _MESSAGE, "Error": _ERROR},
    },
    "security": [{"bearer": []}],
    "paths": {
        f"{PREFIX}/messages": {
            "post": {
                "summary": "Queue a message",
                "description": "Answers once the message is on disk. An id already seen returns the stored "
                               "message (200) and queues nothing.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/SendRequest"}}}},
                "responses": {
                    "202": {"description": "Queued", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Message"}}}},
                    "200": {"description": "Already known: the stored message", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Message"}}}},
                    **_error_responses(400, 401, 403, 409, 413, 422, 429)},
            },
            "get": {
                "summary": "List messages, newest first, a page at a time",
                "description": "Pages are keyset-paginated: pass a page's `next_cursor` as `cursor` (with the same "
                               "filters) for the next one; messages stored meanwhile never shift it. A page is "
                               "answered from an index in milliseconds however many messages are stored; with two "
                               "filters or more it searches a bounded stretch of history and may hold fewer than "
                               "`limit` messages (even none) and still have a `next_cursor`: follow it until it "
                               "is null.",
                "parameters": [
                    {"name": "channel", "in": "query", "schema": {"type": "string"}},
                    {"name": "status", "in": "query", "schema": {"type": "string", "enum": _STATUSES}},
                    {"name": "direction", "in": "query", "schema": {"type": "string", "enum": ["in", "out"]}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"},
                     "description": "The previous page's `next_cursor` (opaque); omit it for the newest page."},
                ],
                "responses": {
                    "200": {"description": "One page of messages", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["messages", "next_cursor"], "properties": {
                            "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
                            "next_cursor": {"type": ["string", "null"],
                                            "description": "Pass as `cursor` for the next page; null on the "
                                                           "last page."}}}}}},
                    **_error_responses(400, 401, 403)},
            },
        },
        f"{PREFIX}/messages/{{id}}": {
            "get": {
                "summary": "One message with its status history and segments",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "The message", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Message"}}}},
                    **_error_responses(401, 403, 404)},
            },
        },
        f"{PREFIX}/messages/{{id}}/resend": {
            "post": {
                "summary": "Queue a failed message again, as a new message",
                "description": "For a send that failed (a timeout left it in doubt, wrong credentials since fixed): "
                               "queues a copy with a new id derived from the original's and `resend_of` in its "
                               "metadata. Asking again returns that copy (200) and queues nothing.",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "202": {"description": "The copy, queued", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Message"}}}},
                    "200": {"description": "Already resent: the copy", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Message"}}}},
                    **_error_responses(401, 403, 404, 409, 429)},
            },
        },
        f"{PREFIX}/openapi.json": {
            "get": {"summary": "This document", "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}}},
        },
    },
}
