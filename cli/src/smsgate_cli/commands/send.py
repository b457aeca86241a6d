"""`smsgate send` and `smsgate resend`: test sends, tried once now; their outcome is final."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from .._app import ConfigOption, JsonOption, app
from .._context import fail, guarded, load
from .._render import report_send


@app.command()
def send(
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The message text.")],
    to: Annotated[str, typer.Option("--to", help="Recipient (E.164, or local to the channel's country).")],
    channel: Annotated[str | None, typer.Option(
        "--channel", help="Channel name from the config; omitted: the [[routes]] pick one by the number, and a "
                          "channel that provably did not take it hands it to the route's next.")] = None,
    message_id: Annotated[str | None, typer.Option("--id", help="Message UUID; the same id is sent once.")] = None,
    attachment: Annotated[list[str] | None, typer.Option("--attachment", help="Attachment URL (repeatable).")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send one message now (a test send); exit 0 only when the aggregator accepted it, else it is failed for good.

    Never retried later by `smsgate serve`, unlike API sends: `smsgate resend ID` sends a failed one again.
    """
    import uuid

    if message_id is not None:
        try:
            message_id = str(uuid.UUID(message_id))
        except ValueError:
            raise fail(f"--id must be a UUID such as {uuid.uuid4()}, got {message_id!r}", 2) from None

    def run() -> Any:
        from smsgate.host import open_gateway

        cfg = load(config)

        async def go() -> Any:
            async with open_gateway(cfg) as gateway:
                fields: dict[str, Any] = {"attachments": attachment or []}
                if message_id:
                    fields["id"] = message_id
                message = await gateway.prepare(channel, to, text, **fields)
                return await gateway.send(message, final=True)

        return asyncio.run(go())

    report_send(guarded(run), as_json, "already known: not sent again")


@app.command()
def resend(
    message_id: Annotated[str, typer.Argument(metavar="ID", help="Id of the failed outgoing message.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send a failed message again now, as a new message (`resend_of` names the original); exit 0 when accepted.

    Like `send`, a test send: if this attempt fails, the copy is failed too and nothing retries it later.
    """

    def run() -> Any:
        from smsgate.errors import MessageInvalid
        from smsgate.host import open_gateway

        cfg = load(config)

        async def go() -> Any:
            async with open_gateway(cfg) as gateway:
                try:
                    message = await gateway.prepare_resend(message_id)
                except KeyError:
                    from smsgate.store import describe

                    raise fail(f"no message with id {message_id!r} in {describe(cfg.gateway.database)}") from None
                except MessageInvalid as exc:
                    raise fail(exc.reason) from None
                return await gateway.send(message, final=True)

        return asyncio.run(go())

    report_send(guarded(run), as_json, "resent before: not sent again", message_id)
