"""`POST /api/v1/messages/batch`: many messages in one request, queued in one write, answered one by one.

An application sending a campaign pays the HTTP exchange, the authentication and the commit once for up to
`MAX_BATCH` messages instead of once each. Every message is validated as `POST /api/v1/messages` validates
one; the valid ones are stored together (`Gateway.enqueue_many`: multi-row INSERTs in one transaction) and the
answer, sent only after that commit, lists one result per message in the request's order: `202` and the
queued message, `200` and the stored one for an id seen before, or `422` and the reason it was refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import _json as strict_json
from .._models import OutgoingMessage
from ..config import GatewaySettings
from ..errors import ConfigError, MessageInvalid, RequestRejected
from ..gateway import Channels, Sending
from ._requests import read_body

__all__ = ["BATCH_PATH", "MAX_BATCH", "batch_openapi", "batch_route"]

MAX_BATCH = 1000
BATCH_PATH = "/api/v1/messages/batch"


def batch_route(sending: Sending, channels: Channels, settings: GatewaySettings,
                authorize: Callable[[Request], JSONResponse | None],
                message_json: Callable[[Any], dict[str, Any]], model: Any) -> Route:
    """The batch route: `authorize`, `message_json` and the request `model` are the single-message API's own."""

    async def batch(request: Request) -> Response:
        denied = authorize(request)
        if denied is not None:
            return denied
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
                ready.append((index, await _prepare(sending, channels, model, item)))
            except RequestRejected as exc:
                results[index] = {"status": exc.status_code, "error": exc.reason}
        if ready:
            stored = await sending.enqueue_many([message for _, message in ready])
            for (index, _), (record, created) in zip(ready, stored, strict=True):
                results[index] = {"status": 202 if created else 200, "message": message_json(record)}
        return JSONResponse({"results": results})

    return Route(BATCH_PATH, batch, methods=["POST"])


async def _prepare(sending: Sending, channels: Channels, model: Any, item: Any) -> OutgoingMessage:
    """One item of the batch as an outgoing message; RequestRejected (422) with the reason it cannot be sent."""
    if not isinstance(item, dict):
        raise RequestRejected('each message must be a JSON object such as {"channel": "ex", "to": "+250…", '
                              '"text": "hi"}', 422)
    try:
        req = model.model_validate(item)
    except ValidationError as exc:
        raise RequestRejected("; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}"
                                        for e in exc.errors()), 422) from None
    if req.channel not in channels:
        raise RequestRejected(channels.unknown(req.channel), 422)
    fields: dict[str, Any] = {"attachments": req.attachments, "metadata": req.metadata,
                              "quick_replies": req.quick_replies, "high_priority": req.high_priority}
    if req.id is not None:
        fields["id"] = str(req.id)
    try:
        return await sending.prepare(req.channel, req.to, req.text, **fields)
    except (MessageInvalid, ConfigError) as exc:
        raise RequestRejected(exc.reason if isinstance(exc, MessageInvalid) else str(exc), 422) from None


def batch_openapi(error: dict[str, Any], error_responses: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """The batch route's entry in the OpenAPI document."""
    result = {"type": "object", "required": ["status"], "properties": {
        "status": {"type": "integer", "enum": [200, 202, 422],
                   "description": "202 queued, 200 an id seen before (the stored message), 422 refused."},
        "message": {"$ref": "#/components/schemas/Message"},
        "error": {"type": "string", "description": "Why this message was refused (422 only)."}}}
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
