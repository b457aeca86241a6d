"""The `zenvia` adapter: one POST per message (its parts as contents), incoming messages on `receive`, message
statuses on `status`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from smsgate import (
    Adapter,
    ChannelLog,
    Event,
    Ignored,
    InboundRequest,
    IncomingMessage,
    OutgoingMessage,
    RequestRejected,
    SendResult,
    Status,
    StatusUpdate,
    parse_uuid,
    route,
    utcnow,
)
from smsgate.errors import MessageInvalid, ResponseContentError
from smsgate.text import segment, split_bytes, with_attachments

from ._inbound import check_webhook_secret, contents_of, event_of, parse_time
from ._settings import WEBHOOK_SECRET_HEADER, ZenviaSettings
from ._status import STATUS_MAP, check_zenvia_response, json_body

__all__ = ["ZenviaAdapter"]

_REQUIRED_MO = ("id", "from", "to", "direction", "contents")


class ZenviaAdapter(Adapter[ZenviaSettings]):
    """Zenvia API v2, SMS channel: sends, incoming messages and message statuses."""

    name = "zenvia"
    settings_model = ZenviaSettings

    def secret_headers(self) -> Iterable[str]:
        """The API token's header and the webhook secret's, masked whole in channel logs."""
        return ["X-API-TOKEN", WEBHOOK_SECRET_HEADER]

    # -- sending --------------------------------------------------------------------------------------

    def build_body(self, message: OutgoingMessage, parts: list[str]) -> dict[str, Any]:
        """The JSON of one send: numbers without `+`, each part one text content, smsgate's id as `externalId`
        (echoed in every status, so statuses match even when the send's answer was lost)."""
        return {"from": (message.from_ or self.settings.address).lstrip("+"), "to": message.to.lstrip("+"),
                "contents": [{"type": "text", "text": part} for part in parts], "externalId": message.id}

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One POST for the whole message; attachment URLs are appended to the text (SMS carries no media)."""
        s = self.settings
        text = with_attachments(message.text, message.attachments)
        if not text.strip():
            raise MessageInvalid("nothing to send: no text and no attachments")
        parts = split_bytes(text, s.max_length)
        headers = {"X-API-TOKEN": s.api_key.get_secret_value(), "Accept": "application/json"}
        response = await self.http.request(log, s, "POST", f"{s.base_url}/v2/channels/sms/messages",
                                           check=check_zenvia_response, json=self.build_body(message, parts),
                                           headers=headers)
        payload = json_body(response)
        external_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(external_id, str) or not external_id.strip():
            said = " ".join(response.text.split())[:200]
            raise ResponseContentError(f"no message 'id' in Zenvia's answer: {said!r}")
        return SendResult(Status.WIRED, external_ids=[external_id.strip()],
                          segments=sum(segment(part).count for part in parts))

    # -- webhooks -------------------------------------------------------------------------------------

    @route("receive", "POST")
    async def receive(self, req: InboundRequest) -> list[Event]:
        """A `MESSAGE` event: one incoming message, its text contents joined, files and locations attached."""
        check_webhook_secret(req, self.settings)
        data = event_of(req, "MESSAGE")
        message = _object(data.get("message"))
        missing = ([] if data.get("timestamp") else ["timestamp"]) + \
            [f"message.{k}" for k in _REQUIRED_MO if message.get(k) in (None, "", [])]
        if missing:
            raise RequestRejected("request JSON doesn't match required schema: "
                                  + "; ".join(f"field '{m}' required" for m in missing))
        received_at = parse_time(data["timestamp"])
        if received_at is None:
            raise RequestRejected(f"invalid date format: {str(data['timestamp'])[:40]}")
        if str(message["direction"]).strip().upper() != "IN":
            return [Ignored("ignoring request, not incoming messages")]
        if not isinstance(message["from"], str) or not isinstance(message["id"], str):
            raise RequestRejected("request JSON doesn't match required schema: message.from and message.id are text")
        if not isinstance(message["contents"], list):
            raise RequestRejected("request JSON doesn't match required schema: message.contents is a list")
        text, attachments, skipped = contents_of(message["contents"])
        raw = dict(data)
        if skipped:
            raw["skipped_contents"] = skipped
        to = message["to"] if isinstance(message["to"], str) else self.settings.address
        return [IncomingMessage(self.channel.name, self.parse_number(message["from"]), text, to=to,
                                received_at=received_at, external_id=message["id"].strip(),
                                attachments=attachments, raw=raw)]

    @route("status", "POST")
    async def status(self, req: InboundRequest) -> list[Event]:
        """A `MESSAGE_STATUS` event: the status of a message we sent, matched by our `externalId` or Zenvia's id."""
        check_webhook_secret(req, self.settings)
        data = event_of(req, "MESSAGE_STATUS")
        message, state = _object(data.get("message")), _object(data.get("messageStatus"))
        zenvia_id = _text(data.get("messageId")) or _text(message.get("id"))  # the top-level one is deprecated
        code = _text(state.get("code")).upper()
        missing = [name for name, value in (("messageId", zenvia_id), ("messageStatus.code", code)) if not value]
        if missing:
            raise RequestRejected("request JSON doesn't match required schema: "
                                  + "; ".join(f"field '{m}' required" for m in missing))
        status = STATUS_MAP.get(code, Status.ERRORED)
        error_code = error_reason = None
        if status is not Status.SENT and status is not Status.DELIVERED and status is not Status.READ:
            error_code, error_reason = _cause(state, code)
        external = message.get("externalId")
        return [StatusUpdate(self.channel.name, status,
                             message_id=parse_uuid(external if isinstance(external, str) else None),
                             external_id=zenvia_id, error_code=error_code, error_reason=error_reason,
                             at=parse_time(state.get("timestamp")) or parse_time(data.get("timestamp")) or utcnow(),
                             raw=data)]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _cause(state: dict[str, Any], code: str) -> tuple[str, str]:
    """The error code and reason of a failed status: the first cause's channel code, else Zenvia's status code."""
    listed = state.get("causes")
    causes = [c for c in listed if isinstance(c, dict)] if isinstance(listed, list) else []
    said = [" ".join(str(c.get(k) or "").strip() for k in ("reason", "details")).strip() for c in causes]
    description = str(state.get("description") or "").strip()
    reason = "; ".join(s for s in [description, *said] if s) or f"Zenvia status {code}"
    first = str(causes[0].get("channelErrorCode") or "").strip() if causes else ""
    return (first or code)[:32], reason[:300]
