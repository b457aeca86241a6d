"""`POST /api/v1/messages/batch`: many messages in one request, queued in one write, answered one by one.

An application sending a campaign pays the HTTP exchange, the authentication and the commit once for up to
`MAX_BATCH` messages instead of once each. Every message is validated as `POST /api/v1/messages` validates
one; the valid ones are stored together (`Gateway.enqueue_many`: multi-row INSERTs in one transaction) and the
answer, sent only after that commit, lists one result per message in the request's order: `202` and the
queued message, `200` and the stored one for an id seen before, `422` and the reason it was refused, `409` for
an id another tenant's message holds, or `429` past a tenant's limits. A tenant's token sees and uses only its
channels, as on the single route.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import _json as strict_json
from .._models import MessageRecord, OutgoingMessage
from ..config import GatewaySettings
from ..errors import ConfigError, LimitReached, MessageInvalid, RequestRejected
from ..gateway import Channels, Sending
from ..store import Reads
from ._requests import read_body

__all__ = ["BATCH_PATH", "MAX_BATCH", "batch_openapi", "batch_route"]

MAX_BATCH = 1000
BATCH_PATH = "/api/v1/messages/batch"


def batch_route(sending: Sending, reads: Reads, channels: Channels, settings: GatewaySettings,
                authorize: Callable[[Request], Any], told: Callable[[Any, str], None],
                message_json: Callable[[Any], dict[str, Any]], model: Any) -> Route:
    """The batch route: `authorize` (a `Caller`, or the refusal to answer), `told` (a tenant's outcome for the
    metrics), `message_json` and the request `model` are the single-message API's own."""

    async def batch(request: Request) -> Response:
        caller = authorize(request)
        if isinstance(caller, JSONResponse):
            return caller
        try:
            body = await read_body(request, settings.max_body_bytes)
            try:
                raw = strict_json.loads(body)
            except strict_json.JSONRejected as exc:
                raise RequestRejected(f"body is not valid JSON: {exc}") from None
            items = raw.get("messages") if isinstance(raw, dict) and set(raw) == {"messages"} else None
            if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
                raise RequestRejected(f'the body must be {{"messages": [...]}} with 1 to {MAX_BATCH} messages, '
                                      'each as POST /api/v1/messages takes one')
        except RequestRejected as exc:
            return JSONResponse({"error": exc.reason}, status_code=exc.status_code)
        results: list[dict[str, Any] | None] = [None] * len(items)
        ready: list[tuple[int, OutgoingMessage]] = []
        for index, item in enumerate(items):
            try:
                prepared = await _prepare(sending, reads, channels, caller, model, item)
            except RequestRejected as exc:
                if exc.status_code == 422:
                    told(caller, "refused")
                results[index] = {"status": exc.status_code, "error": exc.reason}
                continue
            if isinstance(prepared, OutgoingMessage):
                ready.append((index, prepared))
            else:  # an id already stored: the stored message, nothing queued (as the single route answers)
                results[index] = {"status": 200, "message": message_json(prepared)}
        if ready:
            stored = await sending.enqueue_many([message for _, message in ready])
            for (index, _), answer in zip(ready, stored, strict=True):
                if isinstance(answer, LimitReached):
                    told(caller, "limited")
                    results[index] = {"status": 429, "error": answer.reason,
                                      "retry_after": max(1, math.ceil(answer.retry_after))}
                    continue
                record, created = answer
                if created:
                    told(caller, "accepted")
                results[index] = {"status": 202 if created else 200, "message": message_json(record)}
        return JSONResponse({"results": results})

    return Route(BATCH_PATH, batch, methods=["POST"])


async def _prepare(sending: Sending, reads: Reads, channels: Channels, caller: Any, model: Any, item: Any
                   ) -> OutgoingMessage | MessageRecord:
    """One item of the batch as an outgoing message (or the stored message its id names); RequestRejected with
    the reason it cannot be sent (422; 409 for an id another tenant's message holds)."""
    if not isinstance(item, dict):
        raise RequestRejected('each message must be a JSON object such as {"channel": "ex", "to": "+250…", '
                              '"text": "hi"}', 422)
    try:
        req = model.model_validate(item)
    except ValidationError as exc:
        raise RequestRejected("; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}"
                                        for e in exc.errors()), 422) from None
    if req.channel is not None and (req.channel not in channels or not caller.sees(req.channel)):
        known = None if caller.channels is None else ", ".join(sorted(caller.channels))
        raise RequestRejected(channels.unknown(req.channel) if known is None
                              else f"unknown channel {req.channel!r} (known: {known})", 422)
    fields: dict[str, Any] = {"attachments": req.attachments, "metadata": req.metadata,
                              "quick_replies": req.quick_replies, "high_priority": req.high_priority}
    if req.id is not None:
        fields["id"] = str(req.id)
        stored = await reads.get_message(str(req.id))
        if stored is not None:
            if not caller.sees(stored.channel):
                raise RequestRejected(f"id {req.id} is taken by another message: use a new one", 409)
            return stored
    try:
        return await sending.prepare(req.channel, req.to, req.text, tenant=caller.tenant, **fields)
    except MessageInvalid as exc:
        raise RequestRejected(exc.reason, 422) from None
    except ConfigError as exc:
        raise RequestRejected(str(exc), 422) from None


def batch_openapi(error: dict[str, Any], error_responses: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The batch route's entry in the OpenAPI document."""
    result = {"type": "object", "required": ["status"], "properties": {
        "status": {"type": "integer", "enum": [200, 202, 409, 422, 429],
                   "description": "202 queued, 200 an id seen before (the stored message), 409 an id another "
                                  "tenant's message holds, 422 refused, 429 past the tenant's limits."},
        "message": {"$ref": "#/components/schemas/Message"},
        "error": {"type": "string", "description": "Why this message was refused (409, 422, 429)."},
        "retry_after": {"type": "integer", "description": "Seconds to wait before retrying it (429 only)."}}}
    return {"post": {
        "summary": "Queue many messages at once",
        "description": f"Up to {MAX_BATCH} messages, each as `POST /api/v1/messages` takes one, stored in one "
                       "write: the answer comes once they are all on disk, with one result per message in the "
                       "request's order. A refused message (422 in its result) does not stop the others.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["messages"], "additionalProperties": False, "properties": {
                "messages": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                             "items": {"$ref": "#/components/schemas/SendRequest"}}}}}}},
        "responses": {
            "200": {"description": "One result per message, in order", "content": {"application/json": {
                "schema": {"type": "object", "required": ["results"], "properties": {
                    "results": {"type": "array", "items": result}}}}}},
            **error_responses(400, 401, 403, 413)},
    }}
