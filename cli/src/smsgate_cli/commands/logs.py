"""`smsgate logs`: channel logs, every aggregator exchange with its secrets masked."""

from __future__ import annotations

from typing import Annotated

import typer

from .._app import ConfigOption, JsonOption, app
from .._context import read_store
from .._render import print_json


@app.command()
def logs(
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    message: Annotated[str | None, typer.Option("--message", help="Only logs of this message id.")] = None,
    errors: Annotated[bool, typer.Option("--errors", help="Only logs with errors.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show channel logs (every aggregator exchange, secrets redacted), newest first."""

    items = read_store(config, lambda store: store.list_logs(channel=channel, message_id=message,
                                                              errors_only=errors, limit=limit))
    if as_json:
        print_json(items)
        return
    for item in items:
        typer.echo(f"{item['created_at'][:23]} {item['channel']} {item['kind']} "
                   f"{item['message_id'] or ''} {item['elapsed_ms']:.1f}ms")
        for trace in item["traces"]:
            typer.echo(f"  {trace['method']} {trace['url']} -> {trace['status_code'] or trace['error']}")
            if trace["request_body"]:
                typer.echo(f"    > {trace['request_body'][:200]}")
            if trace["response_body"]:
                typer.echo(f"    < {trace['response_body'][:200]}")
        for error in item["errors"]:
            typer.echo(f"  ! {error}")
