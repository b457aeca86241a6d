"""The `jasmin` adapter: one GET /send per piece of a text, MOs from an HTTP client connector on `receive`, the
DLR thrower's receipts on `status`."""

from __future__ import annotations

import urllib.parse
from typing import Any

from smsgate import (
    Adapter,
    ChannelLog,
    Event,
    Ignored,
    InboundRequest,
    IncomingMessage,
    OutgoingMessage,
    Reply,
    RequestRejected,
    SendResult,
    Status,
    StatusUpdate,
    parse_uuid,
    route,
)
from smsgate.errors import MessageInvalid
from smsgate.text import segment, split_bytes, with_attachments

from ._settings import JasminSettings
from ._status import ACK, RECEIPT_STATUS, check_send, external_id_of
from ._text import coding_of, decode_mo, encode, fit_parts, mo_bytes

__all__ = ["JasminAdapter"]

#: the dlr-url parameter carrying smsgate's message id: not `id`, which Jasmin's own receipt fields use
OUR_ID = "msg"


class JasminAdapter(Adapter[JasminSettings]):
    """A Jasmin SMS gateway's HTTP API: /send for MT, an HTTP client connector for MO, the DLR thrower for
    receipts."""

    name = "jasmin"
    settings_model = JasminSettings

    # -- sending --------------------------------------------------------------------------------------

    def pieces(self, message: OutgoingMessage) -> tuple[list[str], bool]:
        """The texts of the /send calls for `message`, and whether they go as UCS-2."""
        text, ucs2 = encode(with_attachments(message.text, message.attachments))
        cut = split_bytes(text, self.settings.max_length) if self.settings.max_length else [text]
        return [piece for part in cut for piece in fit_parts(part, self.settings.max_parts)], ucs2

    def send_url(self, message: OutgoingMessage, text: str, ucs2: bool) -> str:
        """The /send URL of one piece: its parameters sorted by name (as courier's Go encodes them)."""
        s = self.settings
        params = {"username": s.username, "password": s.password.get_secret_value(),
                  "to": message.to.lstrip("+"), "coding": "8" if ucs2 else "0",
                  "dlr": "yes", "dlr-url": self.callback_url("status", **{OUR_ID: message.id}),
                  "dlr-level": str(s.dlr_level), "dlr-method": "POST"}
        if ucs2:
            params["hex-content"] = text.encode("utf-16-be").hex()
        else:
            params["content"] = text
        sender = (message.from_ or s.address).lstrip("+")
        if sender:  # without it Jasmin's user (or the route) decides the sender
            params["from"] = sender
        return f"{s.send_url}?{urllib.parse.urlencode(sorted(params.items()))}"

    async def send(self, message: OutgoingMessage, log: ChannelLog) -> SendResult:
        """One GET /send per piece; each `Success "<uuid>"` is an external id, which receipts name."""
        pieces, ucs2 = self.pieces(message)
        if not any(p.strip() for p in pieces):
            raise MessageInvalid("nothing to send: no text and no attachments")
        external_ids: list[str] = []
        for piece in pieces:
            response = await self.http.request(log, self.settings, "GET", self.send_url(message, piece, ucs2),
                                               check=check_send)
            external_id = external_id_of(response)
            if external_id:
                external_ids.append(external_id)
            else:  # courier too: sent, but its receipts can only match by our id in the dlr-url
                log.error("response_value_missing: no 'Success \"<id>\"' in Jasmin's answer")
        return SendResult(Status.WIRED, external_ids=external_ids, segments=sum(segment(p).count for p in pieces))

    # -- callbacks ------------------------------------------------------------------------------------

    @route("receive", "POST", "GET", raw_form=True)
    async def receive(self, req: InboundRequest) -> list[Event]:
        """An MO from Jasmin's deliverSmHttpThrower: `id`, `from`, `to`, `content` (raw bytes), `binary` (their
        hex), `coding` (one raw byte), `origin-connector`, `priority`."""
        raw = {k.lower(): v for k, v in reversed(list(req.raw_fields().items()))}  # courier matches keys in any case
        fields = {k: v.decode("utf-8", "replace").strip() for k, v in raw.items() if k not in ("content", "binary")}
        missing = [f"field '{n}' required" for n in ("to", "from", "id") if not fields.get(n)]
        if missing:
            raise RequestRejected(", ".join(missing))
        coding = coding_of(raw.get("coding", b""))
        data = mo_bytes(raw.get("content", b""), raw.get("binary", b""))
        details: dict[str, Any] = {**fields, "coding": coding, "binary": data.hex()}
        return [IncomingMessage(self.channel.name, self.parse_number(fields["from"]), decode_mo(data, coding),
                                to=fields["to"], external_id=fields["id"], raw=details)]

    @route("status", "POST", "GET", raw_form=True)
    async def status(self, req: InboundRequest) -> list[Event]:
        """A receipt from Jasmin's DLRThrower: `id` (Jasmin's message id), `level`, `message_status`, `dlvrd`,
        `err`...; smsgate's own id comes back in the dlr-url's `msg`."""
        fields = {k: v.decode("utf-8", "replace").strip() for k, v in req.raw_fields().items()}
        external_id = fields.get("id", "")
        if not external_id:
            raise RequestRejected("field 'id' required")
        our_id = parse_uuid(req.query_params().get(OUR_ID))
        state = fields.get("message_status", "").upper()
        if fields.get("level") == "1":  # the upstream's submit_sm_resp, only with dlr_level 1 or 3
            if state == "ESME_ROK":
                status, code = Status.SENT, None
            elif state.startswith("ESME_"):
                status, code = Status.FAILED, state[:32]
            else:
                return [Ignored(f"ignoring level 1 receipt with status {state[:40]!r}", error=True)]
        elif state in RECEIPT_STATUS:
            status = RECEIPT_STATUS[state]
            code = state if status is Status.FAILED else None
        elif _number(fields.get("dlvrd")) >= 1:
            status, code = Status.DELIVERED, None
        elif _number(fields.get("err")) >= 1:
            status, code = Status.FAILED, f"err:{fields['err'][:8]}"
        else:
            raise RequestRejected("must have a known message_status or either dlvrd or err set to 1")
        reason = None
        if status is Status.FAILED:
            err = fields.get("err", "")
            reason = f"{state or 'failed'}" + (f" (err {err[:8]})" if err and err not in ("000", "ND") else "")
        return [StatusUpdate(self.channel.name, status, message_id=our_id, external_id=external_id,
                             error_code=code, error_reason=reason, raw=fields)]

    def reply(self, action: str, events: list[Event], request: InboundRequest) -> Reply | None:
        """`ACK/Jasmin`, exactly: Jasmin throws an MO or receipt again until it reads that body."""
        return Reply(ACK, 200, "text/plain")


def _number(value: str | None) -> int:
    """A receipt's `dlvrd`/`err`: 3 zero-padded digits, or `ND` or letters when the SMSC left them out (0)."""
    return int(value) if value and value.isascii() and value.isdigit() else 0
