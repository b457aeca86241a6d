"""`smsgate db upgrade` and `smsgate db copy`: the database's schema, and copying it elsewhere."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from .._app import MARKUP, ConfigOption, JsonOption, app
from .._context import guarded, load
from .._render import print_json

db_app = typer.Typer(no_args_is_help=True, rich_markup_mode=MARKUP,
                     help="The database: bring its schema up to date, copy it elsewhere.")
app.add_typer(db_app, name="db")

DatabaseOption = Annotated[str | None, typer.Option(
    "--database", help="A SQLite path, sqlite:///path or postgresql:// URL (default: the config's [gateway] "
                       "database).")]


@db_app.command("upgrade")
def db_upgrade(database: DatabaseOption = None, config: ConfigOption = None) -> None:
    """Apply the schema migrations the database lacks; run it once before starting instances of a new smsgate.

    PostgreSQL: `smsgate serve` refuses to start on a schema that is behind. Two upgrades at once are safe: an
    advisory lock makes the second wait, then find nothing to do. SQLite also migrates itself on open.
    """

    def run() -> None:
        from smsgate.store import describe, upgrade_database

        target = database or load(config).gateway.database
        applied, version = asyncio.run(upgrade_database(target))
        if applied:
            typer.echo(f"{describe(target)}: applied migration(s) {', '.join(map(str, applied))}; "
                       f"schema version {version}")
        else:
            typer.echo(f"{describe(target)}: up to date (schema version {version})")

    guarded(run)


@db_app.command("copy")
def db_copy(
    source: Annotated[str, typer.Option("--from", help="The database to copy: sqlite:///path, a path or a "
                                                       "postgresql:// URL. Refused while an smsgate serve runs on "
                                                       "it: stop every one first.")],
    target: Annotated[str, typer.Option("--to", help="An empty database to copy into (its schema is created).")],
    as_json: JsonOption = False,
) -> None:
    """Copy every message, status, log and outbox item into an empty database; check the counts at the end.

    e.g. `smsgate db copy --from sqlite:///smsgate.sqlite3 --to postgresql://smsgate:...@db:5432/smsgate`.
    Written in one transaction: a copy that fails leaves the target empty. A source that a running smsgate serve
    holds (each keeps a presence lease in its database, renewed every 10 s) is refused: stop them first.
    """

    def run() -> dict[str, tuple[int, int]]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        from smsgate.store import copy_database, describe

        columns = (TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        bar = Progress(*columns, transient=as_json, disable=as_json)
        tasks: dict[str, Any] = {}

        def progress(table: str, done: int, total: int) -> None:
            if not tasks:  # the bars start with the copy itself: a copy refused at once prints nothing but why
                bar.start()
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
            bar.update(tasks[table], completed=done)

        try:
            counts = asyncio.run(copy_database(source, target, progress=progress))
        finally:
            if tasks:
                bar.stop()
        if not as_json:
            typer.echo(f"copied {describe(source)} to {describe(target)}; counts match: "
                       + ", ".join(f"{n} {t}" for t, (n, _) in counts.items()))
        return counts

    counts = guarded(run)
    if as_json:
        print_json({table: {"source": n, "target": m} for table, (n, m) in counts.items()})
