"""`smsgate outbox`: webhook and bridge calls, by default those not acknowledged yet."""

from __future__ import annotations

from typing import Annotated

import typer

from .._app import ConfigOption, JsonOption, app
from .._context import read_store
from .._render import print_json, table, when


@app.command()
def outbox(
    pending: Annotated[bool, typer.Option("--pending/--all", help="Only calls not yet acknowledged (default).")
                       ] = True,
    limit: Annotated[int, typer.Option(min=1, help="How many, oldest first.")] = 20,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show webhook and bridge calls, oldest first: by default those their receivers have not acknowledged."""
    items = read_store(config, lambda store: store.outbox_items(pending=True if pending else None, limit=limit))
    if as_json:
        print_json(items)
        return
    table("outbox", ["created", "type", "target", "attempts", "next attempt", "last error", "delivered"],
           [[when(i["created_at"]), i["type"], i["target"], i["attempts"], when(i["next_attempt_at"]),
             i["last_error"] or "", when(i["done_at"])] for i in items], text=("target", "last error"))
