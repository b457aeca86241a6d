"""The `zenvia` adapter: one POST per part, incoming messages on `receive`, delivery reports on `status`."""

from __future__ import annotations

from smsgate import (
    Adapter,
    ChannelLog,
    Event,
    InboundRequest,
    IncomingMessage,
    OutgoingMessage,
    RequestRejected,
    SendResult,
    Status,
    StatusUpdate,
    route,
)
from smsgate.errors import MessageInvalid
from smsgate.text import segment, split_bytes, with_attachments

from ._settings import ZenviaSettings
from ._status import STATUS_MAP, check_zenvia_response, json_body

__all__ = ["ZenviaAdapter"]


class ZenviaAdapter(Adapter[ZenviaSettings]):
    """Zenvia SMS (API v2): sends, incoming messages and delivery reports."""

    name = "zenvia"
    settings_model = ZenviaSettings

    # -- sending --------------------------------------------------------------------------------------

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One POST per part; each answer's `id` becomes an external id, which delivery reports name."""
        s = self.settings
        parts = split_bytes(with_attachments(message.text, message.attachments), s.max_length)
        if not parts:
            raise MessageInvalid("nothing to send: the text is empty")
        headers = {"Authorization": f"Bearer {s.api_key.get_secret_value()}", "Accept": "application/json"}
        external_ids: list[str] = []
        segments = 0
        for part in parts:
            split = segment(part)
            body = {"from": message.from_ or s.address, "to": message.to, "text": part,
                    "encoding": split.encoding, "callback_url": self.callback_url("status")}
            response = await self.http.request(log, s, "POST", f"{s.base_url}/messages",
                                               check=check_zenvia_response, json=body, headers=headers)
            payload = json_body(response)
            external_id = payload.get("id") if isinstance(payload, dict) else None
            if isinstance(external_id, str) and external_id:
                external_ids.append(external_id)
            else:  # sent all the same; its delivery reports just cannot be matched
                log.error("response_value_missing: no 'id' in the answer")
            segments += split.count
        return SendResult(Status.WIRED, external_ids=external_ids, segments=segments)

    # -- callbacks ------------------------------------------------------------------------------------

    @route("receive", "POST")
    async def receive(self, req: InboundRequest) -> list[Event]:
        """An incoming message: `from`, `text`, `id` (and `to`), as a form or a JSON object."""
        fields = req.fields()
        sender, external_id = req.require("from", "id", fields=fields)
        return [IncomingMessage(self.channel.name, self.parse_number(sender), fields.get("text", ""),
                                to=fields.get("to", "") or self.settings.address, external_id=external_id,
                                raw=fields)]

    @route("status", "POST")
    async def status(self, req: InboundRequest) -> list[Event]:
        """A delivery report: `id` (the send's external id) and `status`, with an optional `error_code`."""
        fields = req.fields()
        external_id, raw_status = req.require("id", "status", fields=fields)
        status = STATUS_MAP.get(raw_status.lower())
        if status is None:
            known = ", ".join(f"'{k}'" for k in STATUS_MAP)
            raise RequestRejected(f"unknown status {raw_status[:40]!r}, must be one of {known}")
        error_code = fields.get("error_code", "").strip()[:32] or None
        return [StatusUpdate(self.channel.name, status, external_id=external_id, error_code=error_code,
                             raw=fields)]
