"""`smsgate show`: one message with its status history and errors."""

from __future__ import annotations

from typing import Annotated

import typer

from .._app import ConfigOption, JsonOption, app
from .._context import fail, read_store
from .._render import print_json, table, when


@app.command()
def show(
    message_id: Annotated[str, typer.Argument(metavar="ID", help="The message id.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one message with its status history (every report, applied or not) and its errors."""
    record = read_store(config, lambda store: store.get_message(message_id))
    if record is None:
        raise fail(f"no message with id {message_id!r}")
    if as_json:
        print_json(record.as_dict())
        return
    typer.echo(f"{record.id}  {record.direction}  {record.channel}")
    if len(record.route) > 1 or record.tenant:
        typer.echo(", ".join(part for part in (f"routed: {' -> '.join(record.route)}" if len(record.route) > 1
                                               else "", f"tenant {record.tenant}" if record.tenant else "") if part))
    typer.echo(f"from {record.from_} to {record.to}")
    typer.echo(f"status {record.status}, {record.attempts} attempt(s), {record.segments} segment(s), "
               f"external ids {', '.join(record.external_ids) or '-'}")
    if record.error_code:
        typer.echo(f"error {record.error_code}: {record.error_reason}")
    typer.echo(f"text: {record.text}")
    # the channel column shows only when a history row is about another channel than the carrier (failover)
    moved = any(h.get("channel", record.channel) != record.channel for h in record.history)
    table("history", ["at", "status", "applied", "channel", "external id", "error"],
          [[when(h["at"]), h["status"], "yes" if h["applied"] else "no", h.get("channel", "") if moved else "",
            h["external_id"] or "", f"{h['error_code']}: {h['error_reason']}" if h["error_code"] else ""]
           for h in record.history], text=("error",))
    if not all(h["applied"] for h in record.history):
        typer.echo("applied no: a report older than the status it found, or a repeat; kept, not applied")
