"""How the commands print: JSON, tables whose ids never wrap, one-line texts, and a send's outcome."""

from __future__ import annotations

import json
from typing import Any

import typer
from smsgate.host import FINAL_REASON


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def table(title: str, columns: list[str], rows: list[list[Any]], *, text: tuple[str, ...] = ()) -> None:
    """Print a table whose cells never wrap, except the free-text `text` columns (at words, 38 wide at most).

    Ids, times and statuses stay whole so they can be copied; columns empty in every row are left out. Off a
    terminal (a pipe, a file, CI) rich would squeeze everything into 80 columns and fold ids mid-way: there the
    table gets the width it needs instead.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table

    if not rows:
        typer.echo(f"{title}: none")
        return
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    keep = [i for i, _ in enumerate(columns) if any(row[i] for row in cells)]
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for i in keep:
        if columns[i] in text:
            table.add_column(columns[i], overflow="fold", max_width=38)
        else:
            table.add_column(columns[i], no_wrap=True, min_width=max([len(columns[i])] + [len(r[i]) for r in cells]))
    for row in cells:
        table.add_row(*(row[i] for i in keep))
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, Console(width=1000).measure(table).maximum))
    with console.capture() as captured:
        console.print(table)
    typer.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))  # no padding to the width


def one_line(text: str) -> str:
    """`text` with every run of whitespace, newlines included, made one space."""
    return " ".join(text.split())


def fit(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with `...`."""
    text = one_line(text)
    return text if len(text) <= width else text[:max(width - 3, 0)] + "..."


def when(stamp: str | None) -> str:
    """A stored UTC timestamp as `2026-12-01 13:57:01`, or ``""``."""
    return (stamp or "")[:19].replace("T", " ")


def report_send(outcome: Any, as_json: bool, not_sent_note: str, resend_of: str | None = None) -> None:
    """Print a send's outcome: JSON, or one line (stdout when accepted, else `error: ...` on stderr); exit 1
    unless the aggregator accepted it."""
    record = outcome.message
    if as_json:
        print_json({**record.as_dict(), "sent_now": outcome.sent})
    elif outcome.ok:
        detail = f" (resend of {resend_of})" if resend_of else ""
        note = "" if outcome.sent else f" ({not_sent_note})"
        typer.echo(f"{record.status}{note}: id {record.id}{detail} to {record.to} via {record.channel}, "
                   f"{record.segments} segment(s), external ids {', '.join(record.external_ids) or '-'}")
    else:
        reason = (record.error_reason or "").removesuffix(f"; {FINAL_REASON}") or "no reason recorded"
        if record.status == "failed":
            what = "failed, not retried" if outcome.sent else "failed earlier, not sent again"
            then = f"to send it again: smsgate resend {record.id}"
        elif outcome.sent:  # errored, and a running gateway took it before it could be failed
            what, then = record.status, f"a running smsgate serve took message {record.id} over and retries it"
        else:  # queued or errored through the API or by an earlier gateway, and held by a gateway now
            what, then = f"{record.status}, not sent now", f"smsgate serve sends message {record.id}"
            reason = record.error_reason or "waiting for the gateway's send worker"
        typer.echo(f"error: {what}: {reason}; {then}", err=True)
    if not outcome.ok:
        raise typer.Exit(1)


