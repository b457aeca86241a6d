"""Platform bridges: a platform that speaks its own protocol sends and hears through one smsgate channel.

`rapidpro` is RapidPro's External API channel seen from the service's side: RapidPro POSTs each outgoing
message to `/b/<bridge>/send`; smsgate queues it on the bridge's channel (or routes it by its number among the
bridge's `channels`), then POSTs incoming messages to
`{receive_url}/receive`, status changes to `{receive_url}/sent|delivered|failed?id=<RapidPro's id>` and opt-outs
to `{receive_url}/stopped`, all through the durable outbox.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

from .._adapter import InboundRequest
from .._events import OPTED_OUT, RECEIVED, STATUS_CHANGED, PlatformEvent
from .._models import MessageRecord, OutgoingMessage, Status
from ..config._settings import BridgeSettings
from ..errors import MessageInvalid, RequestRejected
from ..store import OutboxItem

__all__ = ["RapidProBridge", "make_bridges"]

_TIMEOUT = 30.0


class Queue(Protocol):
    """What a bridge needs of the gateway: building a message and queueing it durably."""

    async def prepare(self, channel: str | None, to: str, text: str, *, channels: list[str] | None = None,
                      **fields: Any) -> OutgoingMessage:
        """An outgoing message for `channel` (None: routed by `to` among `channels`), `to` normalised;
        MessageInvalid if it cannot be sent."""

    async def enqueue(self, message: OutgoingMessage) -> tuple[MessageRecord, bool]:
        """Queue durably; a known id returns the stored message and False."""


def make_bridges(bridges: dict[str, BridgeSettings]) -> dict[str, RapidProBridge]:
    """One bridge object per `[bridges.<name>]` table (every platform is `rapidpro` today)."""
    return {name: RapidProBridge(name, settings) for name, settings in bridges.items()}


def _rapidpro_action(previous: Status | None, current: Status) -> str | None:
    """RapidPro knows sent, delivered and failed: wired is its `sent`, and each is reported once."""
    if current in (Status.WIRED, Status.SENT):
        return None if previous in (Status.WIRED, Status.SENT) else "sent"
    if current in (Status.DELIVERED, Status.READ):
        return None if previous in (Status.DELIVERED, Status.READ) else "delivered"
    if current is Status.FAILED:
        return "failed"
    return None  # queued and errored: RapidPro waits for an outcome


class RapidProBridge:
    """RapidPro's External API channel served by smsgate in front of the bridge's channel."""

    platform = "rapidpro"

    def __init__(self, name: str, settings: BridgeSettings) -> None:
        self.name = name
        self.settings = settings
        self.channel = settings.channel
        """The one channel that carries its traffic, or None: routed among `channels`."""
        self.channels = [settings.channel] if settings.channel is not None else list(settings.channels or [])
        self.target = f"bridge:{name}"
        self.timeout = _TIMEOUT

    # -- platform → smsgate ---------------------------------------------------------------------------

    def message_id(self, platform_id: str, part: str | None = None) -> str:
        """smsgate's id for RapidPro's message `platform_id` (and text `part`): the same every time, guessable by
        nobody without the bridge secret.

        The id is the only credential some callback routes check (Kannel's DLR URL carries it), so it is an
        HMAC of RapidPro's id keyed by this bridge's secret: RapidPro's integer ids are sequential and its UUIDs
        are shown in its UI. Deterministic, so a retried POST still queues once.
        """
        key = self.settings.secret.get_secret_value().encode()
        text = f"{self.name}:{platform_id}" if part is None else f"{self.name}:{platform_id}:{part}"
        digest = hmac.new(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def authenticate(self, req: InboundRequest) -> None:
        """Accept the secret as `Authorization: Bearer|Token <secret>` (or bare) or as the `secret` query parameter."""
        expected = self.settings.secret.get_secret_value().encode()
        offered: list[str] = []
        header = req.headers.get("authorization", "").strip()
        if header:
            scheme, _, rest = header.partition(" ")
            offered.append(rest.strip() if scheme.lower() in ("bearer", "token") and rest else header)
        offered.extend(v for k, v in req.query if k == "secret")
        # every credential presented must be right: a wrong one next to a right one is an attacker probing
        ok = bool(offered)
        for value in offered:  # compare every offer in constant time, no early exit
            ok &= hmac.compare_digest(value.encode("utf-8", "surrogateescape"), expected)
        if not ok:
            where = "invalid secret" if offered else "secret required"
            raise RequestRejected(f"{where}: send the bridge secret as 'Authorization: Bearer <secret>' or as "
                                  "the 'secret' query parameter", 401)

    async def handle_send(self, gateway: Queue, req: InboundRequest) -> tuple[int, dict[str, Any]]:
        """Queue RapidPro's outgoing message on the bridge channel; a known id queues nothing again."""
        self.authenticate(req)
        params = req.fields()
        platform_id = _first(params, "id", "uuid").strip()
        if not platform_id:
            raise RequestRejected("field 'id' required")
        # "texto"/"para" are the field names of the Spanish translation of RapidPro's docs; RapidPro sends English
        text = _first(params, "text", "texto")
        to = _first(params, "to", "para").strip()
        if not to and params.get("to_no_plus", "").strip():
            to = "+" + params["to_no_plus"].strip().lstrip("+")
        if not to:
            raise RequestRejected("field 'to' required")
        meta = {"bridge": self.name, "id": platform_id, "from": params.get("from", ""),
                "channel": params.get("channel", "")}
        try:
            routed = {} if self.channel is not None else {"channels": self.channels}
            message = await gateway.prepare(self.channel, to, text, id=self.message_id(platform_id),
                                            metadata={"rapidpro": meta}, **routed)
        except MessageInvalid as exc:
            raise RequestRejected(exc.reason) from None
        record, created = await gateway.enqueue(message)
        if not created and record.text != message.text:
            # RapidPro posts each part of a split message with the same id: a new text is the next part
            part_id = self.message_id(platform_id, text)
            message.id, message.metadata = part_id, {"rapidpro": {**meta, "part": True}}
            record, created = await gateway.enqueue(message)
        return (200, {"id": record.id, "status": record.status, "rapidpro_id": platform_id,
                      "duplicate": not created})

    # -- smsgate → platform ---------------------------------------------------------------------------

    def plan(self, note: PlatformEvent) -> list[OutboxItem]:
        """The calls RapidPro must receive for one stored event (none for other channels' traffic)."""
        if note.channel not in self.channels:
            return []
        data = note.data
        if note.type == RECEIVED:
            text = data["text"]
            for url in data.get("attachments") or []:  # RapidPro's receive has no media field
                text = f"{text}\n{url}" if text else url
            received = datetime.fromisoformat(data["received_at"]).astimezone(UTC)
            date = received.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # as RapidPro's docs show
            form = {"from": data["from"], "text": text, "date": date}
            return [OutboxItem(self.target, note.key, note.type, {"action": "receive", "form": form})]
        if note.type == STATUS_CHANGED:
            origin = (note.message.metadata if note.message else data.get("metadata") or {}).get("rapidpro")
            if not isinstance(origin, dict) or origin.get("bridge") != self.name:
                return []  # not a message RapidPro sent: it has no id to report on
            previous = Status(data["previous"]) if data.get("previous") else None
            action = _rapidpro_action(previous, Status(data["status"]))
            if action is None:
                return []
            return [OutboxItem(self.target, note.key, note.type, {"action": action, "query": {"id": origin["id"]}})]
        if note.type == OPTED_OUT:
            return [OutboxItem(self.target, note.key, note.type, {"action": "stopped",
                                                                  "form": {"from": data["address"]}})]
        return []

    def request(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The httpx request arguments delivering one planned call."""
        return {"method": "POST", "url": f"{self.settings.receive_url}/{payload['action']}",
                "params": payload.get("query") or None, "data": payload.get("form") or None,
                "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


def _first(params: dict[str, str], *keys: str) -> str:
    return next((params[k] for k in keys if params.get(k, "").strip()), "")
