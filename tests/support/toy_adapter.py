"""A toy adapter that exercises the whole adapter contract in the core's own tests."""

from __future__ import annotations

from pydantic import Field, SecretStr
from smsgate import (
    Adapter,
    ChannelSettings,
    Ignored,
    IncomingMessage,
    OptOut,
    RequestRejected,
    SendResult,
    Status,
    StatusUpdate,
    route,
)


class ToySettings(ChannelSettings):
    """Settings of the toy adapter."""

    url: str = Field("http://aggregator.test/send", description="Where sends go.")
    password: SecretStr = Field(SecretStr("hunter2-toy"), description="A secret sent as a query parameter.")


class Toy(Adapter):
    """A minimal adapter: GET url?to=&text=&password=; the response body is the external id."""

    name = "toy"
    settings_model = ToySettings

    async def send(self, message, log):
        response = await self.http.request(log, self.settings, "GET", self.settings.url, params={
            "to": message.to, "text": message.text, "password": self.settings.password.get_secret_value()})
        return SendResult(Status.WIRED, external_ids=[response.text] if response.text else [])

    @route("receive", "GET", "POST")
    async def receive(self, req):
        params = req.params
        if "from" not in params:
            raise RequestRejected("field 'from' required")
        return [IncomingMessage(self.channel.name, self.parse_number(params["from"]), params.get("text", ""),
                                external_id=params.get("id"))]

    @route("status", "POST")
    async def status(self, req):
        params = req.params
        try:
            status = Status(params.get("status", ""))
        except ValueError:
            return [Ignored(f"unknown status {params.get('status')!r}")]
        return [StatusUpdate(self.channel.name, status, message_id=params.get("id"), external_id=params.get("ext"))]

    @route("stopped", "POST")
    async def stopped(self, req):
        return [OptOut(self.channel.name, self.parse_number(req.params.get("from", "")))]
