"""`smsgate messages`: stored messages, newest first, a page at a time."""

from __future__ import annotations

import shutil
from typing import Annotated, Any

import typer

from .._app import ConfigOption, JsonOption, app
from .._context import fail, read_store
from .._render import fit, print_json, when


@app.command()
def messages(
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    direction: Annotated[str | None, typer.Option(help="'in' or 'out'.")] = None,
    number: Annotated[str | None, typer.Option(
        "--to", "--number", help="Only messages with this contact, as the console's Number filter: the recipient "
                                 "of outgoing ones, the sender of incoming ones (E.164, or local with --channel).")
                      ] = None,
    text: Annotated[str | None, typer.Option("--text", help="Only messages whose text contains this "
                                                            "(case-insensitive).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    cursor: Annotated[str | None, typer.Option(help="Continue where a listing said `more: --cursor ...`.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show stored messages, newest first, a page at a time (`--cursor` for the next page).

    With --json: one object, `{"messages": [...], "next_cursor": "..."}` (null on the last page), as the API's
    listing is.
    """
    if direction not in (None, "in", "out"):
        raise fail("--direction must be 'in' or 'out'", 2)

    async def find(store: Any, cfg: Any) -> Any:
        contact = _contact(number, cfg.channels.get(channel)) if number else None
        try:
            return await store.find_messages(channel=channel, status=status, direction=direction, number=contact,
                                             text=text or None, limit=limit, cursor=cursor)
        except ValueError:
            raise fail("--cursor is not one a listing printed (copy it from the `more:` line)", 2) from None

    page = read_store(config, find, with_config=True)
    records = page.messages
    if as_json:
        print_json({"messages": [r.as_dict() for r in records], "next_cursor": page.next_cursor})
        return
    if not records:  # a filtered page searches a stretch of history; an empty one may still lead on
        typer.echo("no messages" + (" in this stretch (older ones may match)" if page.next_cursor else ""))
    # two lines a message, not a table: a whole id, its time and status, then who and what, fit in 80 columns
    width = max(shutil.get_terminal_size().columns, 80)
    for r in records:
        typer.echo(f"{r.id}  {when(r.created_at)}  {r.direction:<3}  {r.status:<9}  {r.channel}")
        contact = f"to {r.to}" if r.direction == "out" else f"from {r.from_}"
        typer.echo("    " + fit(f"{contact}: {r.text}", width - 4))
    if page.next_cursor:
        typer.echo(f"more: --cursor {page.next_cursor}")


def _contact(raw: str, channel: Any) -> str:
    """The number as stored (E.164): a local one read with the channel's country, as the console reads it."""
    from smsgate.phones import normalize_number

    country = channel.settings.country if channel is not None else None
    try:
        return normalize_number(raw, country)
    except ValueError:  # not a number we can read: match it as written
        digits = raw.replace(" ", "")
        return "+" + digits if digits.isdigit() else raw.strip()
