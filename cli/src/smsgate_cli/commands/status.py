"""`smsgate status`: each channel now, as Kannel's status page shows its links: up or down since when and why, the
last minute's traffic, the queue, the last error. Read from the database, so it shows every instance's view."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from typing import Annotated, Any

import typer

from .._app import ConfigOption, JsonOption, app
from .._context import read_store
from .._render import print_json, table, when


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _since(stamp: str | None, now: datetime) -> str:
    if not stamp:
        return "-"
    return f"{when(stamp)} ({_ago((now - datetime.fromisoformat(stamp)).total_seconds())})"


def _rate(per_minute: int) -> str:
    return f"{per_minute / 60:.2f}"


def _print(found: list[Any], now: datetime) -> None:
    rows = [[s.channel, s.adapter, s.link, _since(s.since, now), s.reason or "-", _rate(s.out_per_min),
             _rate(s.in_per_min), s.queued, _ago(s.oldest_queued_s),
             (f"{when(s.last_error['at'])}: {s.last_error['error']}" if s.last_error else "-")] for s in found]
    table(f"channels at {when(now.isoformat())} UTC (rates: the last minute)",
          ["channel", "adapter", "link", "since", "reason", "out msg/s", "in msg/s", "queued", "oldest", "last error"],
          rows, text=("reason", "last error"))


@app.command()
def status(
    watch: Annotated[bool, typer.Option("--watch", help="Refresh until interrupted (Ctrl-C).")] = False,
    interval: Annotated[float, typer.Option(min=0.5, help="Seconds between refreshes with --watch.")] = 2.0,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show each channel now: its link (up, down or unknown, since when and why), messages per second out and in
    over the last minute, how many wait to be sent and for how long, and its last error. `--json` prints a list
    of objects (one JSON document per refresh with --watch)."""
    from smsgate.host import channel_status, utcnow

    def once() -> tuple[list[Any], datetime]:
        now = utcnow()

        async def read(store: Any, cfg: Any) -> list[Any]:
            adapters = {name: ch.settings.adapter for name, ch in cfg.channels.items()}
            return await channel_status(store, adapters, now=now)

        return read_store(config, read, with_config=True), now

    if not watch:
        found, now = once()
        if as_json:
            print_json([s.as_dict() for s in found])
        else:
            _print(found, now)
        return
    try:
        while True:
            found, now = once()
            if as_json:
                typer.echo(json.dumps([s.as_dict() for s in found], ensure_ascii=False))  # one line each
            else:
                # on a terminal each reading replaces the last, as `watch` does; in a pipe they follow each other
                typer.echo("\x1b[H\x1b[2J" if sys.stdout.isatty() else "", nl=False)
                _print(found, now)
                typer.echo(f"every {interval:g} s; Ctrl-C to stop")
            sys.stdout.flush()  # a reading at a time, also through a pipe
            time.sleep(interval)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
