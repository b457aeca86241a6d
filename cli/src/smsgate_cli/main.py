"""`smsgate`: list adapters, check the config, send, serve the gateway, show messages and logs, manage the database.

User errors print one line and exit non-zero (2 for usage and config errors); `--debug` shows the traceback
instead. A `send` or `resend` from here is a test send: its outcome is final, never retried later by a gateway.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="smsgate: connect messaging platforms to SMS aggregators through adapter plugins.")

T = TypeVar("T")
_state: dict[str, Any] = {"debug": False, "config": None, "strict": False}

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="Config file (default: $SMSGATE_CONFIG "
                                                                          "or ./smsgate.toml).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.callback()
def _root(
    config: ConfigOption = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail when any plugin fails to load.")] = False,
) -> None:
    """Options shared by every command."""
    _state.update(debug=debug, config=config, strict=strict or _state["strict"])
    if strict:
        os.environ["SMSGATE_STRICT_PLUGINS"] = "1"
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one error line to stderr and return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def guarded(fn: Callable[[], T]) -> T:
    """Run `fn`, turning smsgate's errors into one clear line (a traceback with --debug)."""
    from smsgate.errors import ConfigError, SmsgateError

    try:
        return fn()
    except typer.Exit:
        raise
    except ConfigError as exc:
        if _state["debug"]:
            raise
        raise fail(str(exc), 2) from None
    except SmsgateError as exc:
        if _state["debug"]:
            raise
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:
        if _state["debug"]:
            raise
        raise fail(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)") from None


def load(config: Path | None = None) -> Any:
    """Load the config named by --config (the command's or the global one), $SMSGATE_CONFIG or ./smsgate.toml."""
    from smsgate.host import installed_adapters, load_config, load_plugins
    from smsgate.plugins import loading_note

    load_plugins(strict=_state["strict"] or None)
    return load_config(config or _state["config"], installed_adapters(), why_missing=loading_note())


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _table(title: str, columns: list[str], rows: list[list[Any]], *, text: tuple[str, ...] = ()) -> None:
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


def _one_line(text: str) -> str:
    """`text` with every run of whitespace, newlines included, made one space."""
    return " ".join(text.split())


def _fit(text: str, width: int) -> str:
    """`text` on one line, cut to `width` characters with `...`."""
    text = _one_line(text)
    return text if len(text) <= width else text[:max(width - 3, 0)] + "..."


@app.command()
def adapters(as_json: JsonOption = False) -> None:
    """List the installed adapters (the same discovery the gateway uses) and plugins that failed to load."""

    def run() -> None:
        from smsgate.host import get_adapters, load_plugins

        failures = load_plugins(strict=_state["strict"] or None)
        found = get_adapters()
        items: list[dict[str, Any]] = [{"name": i.name, "distribution": i.distribution, "version": i.version,
                  "routes": {r.action: list(r.methods) for r in i.adapter.routes.values()},
                  "description": (i.adapter.__doc__ or "").strip().splitlines()[0] if i.adapter.__doc__ else ""}
                 for i in found.values()]
        if as_json:
            _print_json({"adapters": items, "failed": [dataclasses.asdict(f) for f in failures]})
            return
        if not items:
            from smsgate.plugins import loading_note

            typer.echo(f"no adapters loaded ({loading_note()})" if loading_note() else
                       "no adapters installed (pip install smsgate-http, smsgate-kannel or smsgate-twilio)")
        else:
            _table("adapters", ["name", "distribution", "version", "routes"],
                   [[i["name"], i["distribution"], i["version"],
                     ", ".join(f"{a} ({'/'.join(m)})" for a, m in i["routes"].items())] for i in items],
                   text=("routes",))
        for failure in failures:
            typer.echo(f"warning: plugin {failure.name!r} ({failure.distribution}) failed to load: {failure.error}",
                       err=True)

    guarded(run)


@app.command()
def check(
    config: ConfigOption = None,
    offline: Annotated[bool, typer.Option("--offline", help="Only validate the config: do not try the connection "
                                                            "of channels that hold one (SMPP binds).")] = False,
) -> None:
    """Validate the config file and print the channels it defines; a channel that holds a connection (an SMPP
    bind) is tried too: exit 1 when one cannot connect."""

    def run() -> bool:
        from smsgate.store import describe

        cfg = load(config)
        problems = {} if offline else asyncio.run(_probe(cfg))
        where = cfg.path or "(no file: embedded defaults)"
        typer.echo(f"ok: {where}: {len(cfg.channels)} channel(s)")
        typer.echo(f"  database {describe(cfg.gateway.database)}")
        typer.echo(f"  public URL {cfg.gateway.base_url()}")
        for name, channel in cfg.channels.items():
            line = f"  channel {name}: adapter {channel.settings.adapter}, address {channel.settings.address or '-'}"
            if name in problems:
                line += f", connection {problems[name] or 'ok'}"
            typer.echo(line)
        return all(reason is None for reason in problems.values())

    if not guarded(run):
        raise typer.Exit(1)


async def _probe(cfg: Any) -> dict[str, str | None]:
    """Each channel whose adapter can try its connection (it overrides `probe`), with the outcome."""
    from smsgate import Adapter
    from smsgate.http import HttpClient

    http = HttpClient()
    found: dict[str, str | None] = {}
    try:
        for name, channel in cfg.channels.items():
            if channel.adapter_cls.probe is Adapter.probe:
                continue
            adapter = channel.adapter_cls(channel, http, cfg.gateway.base_url())
            try:
                found[name] = await adapter.probe()
            finally:
                await adapter.stop()
    finally:
        await http.aclose()
    return found


@app.command()
def send(
    text: Annotated[str, typer.Argument(metavar="TEXT", help="The message text.")],
    channel: Annotated[str, typer.Option("--channel", help="Channel name from the config.")],
    to: Annotated[str, typer.Option("--to", help="Recipient (E.164, or local to the channel's country).")],
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
                return await _final(gateway, await gateway.send(message))

        return asyncio.run(go())

    _report_send(guarded(run), as_json, "already known: not sent again")


# Kept with the error in the message's history, so `smsgate show` says why nothing retried it.
CLI_NOT_RETRIED = "sent from the command line, which does not retry"


async def _final(gateway: Any, outcome: Any) -> Any:
    """Make the CLI's own attempt final: an `errored` message it just tried is failed with its error recorded.

    Left errored, the running (or next) `smsgate serve` would send it later, after the user saw it fail and maybe
    sent it again: two SMS. `gateway.fail` only takes a message nobody holds, so if a gateway's worker claimed it
    in the meantime it stays with that worker, and the report says so.
    """
    record = outcome.message
    if not outcome.sent or record.status != "errored":
        return outcome
    reason = f"{record.error_reason}; {CLI_NOT_RETRIED}" if record.error_reason else CLI_NOT_RETRIED
    change = await gateway.fail(record.id, record.error_code or "errored", reason)
    if not change.applied:
        return outcome
    stored = await gateway.store.get_message(record.id)
    return dataclasses.replace(outcome, message=stored)


def _report_send(outcome: Any, as_json: bool, not_sent_note: str, resend_of: str | None = None) -> None:
    """Print a send's outcome: JSON, or one line (stdout when accepted, else `error: ...` on stderr); exit 1
    unless the aggregator accepted it."""
    record = outcome.message
    if as_json:
        _print_json({**record.as_dict(), "sent_now": outcome.sent})
    elif outcome.ok:
        detail = f" (resend of {resend_of})" if resend_of else ""
        note = "" if outcome.sent else f" ({not_sent_note})"
        typer.echo(f"{record.status}{note}: id {record.id}{detail} to {record.to} via {record.channel}, "
                   f"{record.segments} segment(s), external ids {', '.join(record.external_ids) or '-'}")
    else:
        reason = (record.error_reason or "").removesuffix(f"; {CLI_NOT_RETRIED}") or "no reason recorded"
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
                return await _final(gateway, await gateway.send(message))

        return asyncio.run(go())

    _report_send(guarded(run), as_json, "resent before: not sent again", message_id)


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Override [gateway] host.")] = None,
    port: Annotated[int | None, typer.Option(help="Override [gateway] port.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the gateway with uvicorn: channel callbacks, the /api/v1 API, bridges, the send worker and webhooks."""

    def run() -> None:
        import gc

        from smsgate.host import create_app, open_gateway
        from smsgate.host import serve as run_server
        from smsgate.store import describe, schema_status

        cfg = load(config)
        database = describe(cfg.gateway.database)
        # PostgreSQL is migrated by `smsgate db upgrade`, once, not by whichever instance starts first: an instance
        # finding the schema behind stops here with one line instead of answering 503 to everything
        version, lacking = asyncio.run(schema_status(cfg.gateway.database))
        if lacking:
            raise fail(f"database {database} is at schema version {version}; this smsgate needs migration(s) "
                       f"{', '.join(map(str, lacking))}: run `smsgate db upgrade` first", 2)
        gateway = open_gateway(cfg)
        application = create_app(gateway, own_gateway=True, background=True)
        bind_host = host or cfg.gateway.host
        bind_port = cfg.gateway.port if port is None else port
        typer.echo(f"smsgate serving {len(cfg.channels)} channel(s) on http://{bind_host}:{bind_port} "
                   f"(public URL {gateway.public_url}, database {database})", err=True)
        api = "on" if cfg.gateway.api_token else "off (set [gateway] api_token)"
        typer.echo(f"  API /api/v1: {api}; webhooks: {len(cfg.gateway.webhooks)}; bridges: "
                   f"{', '.join(f'/b/{n}/send' for n in cfg.bridges) or 'none'}", err=True)
        signin = cfg.gateway.api_token or cfg.gateway.console_password_hash
        console = ("on (sign in with the api_token" + (" or the console password)" if cfg.gateway.console_password_hash
                                                       else ")")) if signin else "off (set [gateway] api_token)"
        metrics = ("public" if cfg.gateway.metrics_public else "on (bearer api_token)" if cfg.gateway.api_token
                   else "off (set [gateway] api_token or metrics_public)")
        typer.echo(f"  console {gateway.public_url}/ui: {console}; metrics /metrics: {metrics}", err=True)
        # Everything loaded so far (pydantic models, phonenumbers' metadata, the plugins) lives until exit: out
        # of the collector's sight, each request's garbage collections scan only that request's objects
        # (GC time under ingest load: 7% -> 3%).
        gc.freeze()
        run_server(application, cfg.gateway, host=bind_host, port=bind_port, log_level=log_level)

    guarded(run)


@app.command("console-password")
def console_password(
    from_stdin: Annotated[bool, typer.Option("--stdin", help="Read the password from the first line of standard "
                                                            "input instead of asking for it.")] = False,
) -> None:
    """Hash a password for the /ui console: prints the `console_password_hash` line for [gateway]."""
    from smsgate.config._secrets import hash_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Console password", hide_input=True, confirmation_prompt=True)
    if len(password) < 12:
        raise fail("the password must have at least 12 characters", 2)
    # only the hash is printed: the password itself is never stored or shown
    typer.echo(f'console_password_hash = "{hash_password(password)}"')


@app.command()
def messages(
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    direction: Annotated[str | None, typer.Option(help="'in' or 'out'.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    cursor: Annotated[str | None, typer.Option(help="Continue where a listing said `more: --cursor ...`.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show stored messages, newest first, a page at a time (`--cursor` for the next page)."""
    if direction not in (None, "in", "out"):
        raise fail("--direction must be 'in' or 'out'", 2)

    async def find(store: Any) -> Any:
        try:
            return await store.find_messages(channel=channel, status=status, direction=direction, limit=limit,
                                             cursor=cursor)
        except ValueError:
            raise fail("--cursor is not one a listing printed (copy it from the `more:` line)", 2) from None

    page = _read_store(config, find)
    records = page.messages
    if as_json:
        _print_json([r.as_dict() for r in records])
        if page.next_cursor:  # stdout stays one JSON document
            typer.echo(f"more: --cursor {page.next_cursor}", err=True)
        return
    if not records:  # a filtered page searches a stretch of history; an empty one may still lead on
        typer.echo("no messages" + (" in this stretch (older ones may match)" if page.next_cursor else ""))
    # two lines a message, not a table: a whole id, its time and status, then who and what, fit in 80 columns
    width = max(shutil.get_terminal_size().columns, 80)
    for r in records:
        typer.echo(f"{r.id}  {_when(r.created_at)}  {r.direction:<3}  {r.status:<9}  {r.channel}")
        contact = f"to {r.to}" if r.direction == "out" else f"from {r.from_}"
        typer.echo("    " + _fit(f"{contact}: {r.text}", width - 4))
    if page.next_cursor:
        typer.echo(f"more: --cursor {page.next_cursor}")


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

    items = _read_store(config, lambda store: store.list_logs(channel=channel, message_id=message,
                                                              errors_only=errors, limit=limit))
    if as_json:
        _print_json(items)
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


@app.command()
def show(
    message_id: Annotated[str, typer.Argument(metavar="ID", help="The message id.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one message with its status history (every report, applied or not) and its errors."""
    record = _read_store(config, lambda store: store.get_message(message_id))
    if record is None:
        raise fail(f"no message with id {message_id!r}")
    if as_json:
        _print_json(record.as_dict())
        return
    typer.echo(f"{record.id}  {record.direction}  {record.channel}")
    typer.echo(f"from {record.from_} to {record.to}")
    typer.echo(f"status {record.status}, {record.attempts} attempt(s), {record.segments} segment(s), "
               f"external ids {', '.join(record.external_ids) or '-'}")
    if record.error_code:
        typer.echo(f"error {record.error_code}: {record.error_reason}")
    typer.echo(f"text: {record.text}")
    _table("history", ["at", "status", "applied", "external id", "error"],
           [[_when(h["at"]), h["status"], "yes" if h["applied"] else "no", h["external_id"] or "",
             f"{h['error_code']}: {h['error_reason']}" if h["error_code"] else ""] for h in record.history],
           text=("error",))
    if not all(h["applied"] for h in record.history):
        typer.echo("applied no: a report older than the status it found, or a repeat; kept, not applied")


@app.command()
def outbox(
    pending: Annotated[bool, typer.Option("--pending/--all", help="Only calls not yet acknowledged (default).")
                       ] = True,
    limit: Annotated[int, typer.Option(min=1, help="How many, oldest first.")] = 20,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show webhook and bridge calls, oldest first: by default those their receivers have not acknowledged."""
    items = _read_store(config, lambda store: store.outbox_items(pending=True if pending else None, limit=limit))
    if as_json:
        _print_json(items)
        return
    _table("outbox", ["created", "type", "target", "attempts", "next attempt", "last error", "delivered"],
           [[_when(i["created_at"]), i["type"], i["target"], i["attempts"], _when(i["next_attempt_at"]),
             i["last_error"] or "", _when(i["done_at"])] for i in items], text=("target", "last error"))


def _when(stamp: str | None) -> str:
    """A stored UTC timestamp as `2026-12-01 13:57:01`, or ``""``."""
    return (stamp or "")[:19].replace("T", " ")


def _read_store(config: Path | None, read: Callable[[Any], Awaitable[T]]) -> T:
    """Open the configured database read-only, run `read(store)`, close it; errors as one line.

    Read-only so that a wrong path is an error naming it, not a new empty database (and folder) listing nothing.
    """

    def run() -> T:
        import sqlite3

        from smsgate.store import describe, open_store

        cfg = load(config)
        path = describe(cfg.gateway.database)
        where = f"[gateway] database in {cfg.path}" if cfg.path else "no config file, so the default"
        try:
            store = open_store(cfg.gateway.database, readonly=True)
        except FileNotFoundError:
            raise fail(f"no database at {path} ({where}; `smsgate serve` or `smsgate send` creates it)") from None
        except sqlite3.DatabaseError as exc:
            raise fail(f"{path} is not an smsgate database ({exc}; {where})") from None

        async def go() -> T:
            try:
                return await read(store)
            finally:
                await store.close()

        return asyncio.run(go())

    return guarded(run)


db_app = typer.Typer(no_args_is_help=True, help="The database: bring its schema up to date, copy it elsewhere.")
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
                                                       "postgresql:// URL. Stop every smsgate serve on it first.")],
    target: Annotated[str, typer.Option("--to", help="An empty database to copy into (its schema is created).")],
    as_json: JsonOption = False,
) -> None:
    """Copy every message, status, log and outbox item into an empty database; check the counts at the end.

    e.g. `smsgate db copy --from sqlite:///smsgate.sqlite3 --to postgresql://smsgate:...@db:5432/smsgate`.
    Written in one transaction: a copy that fails leaves the target empty.
    """

    def run() -> dict[str, tuple[int, int]]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        from smsgate.store import copy_database, describe

        columns = (TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=as_json, disable=as_json) as bar:
            tasks: dict[str, Any] = {}

            def progress(table: str, done: int, total: int) -> None:
                if table not in tasks:
                    tasks[table] = bar.add_task(table, total=total)
                bar.update(tasks[table], completed=done)

            counts = asyncio.run(copy_database(source, target, progress=progress))
        if not as_json:
            typer.echo(f"copied {describe(source)} to {describe(target)}; counts match: "
                       + ", ".join(f"{n} {t}" for t, (n, _) in counts.items()))
        return counts

    counts = guarded(run)
    if as_json:
        _print_json({table: {"source": n, "target": m} for table, (n, m) in counts.items()})


class _Context:
    """What plugins' sub-commands get from the CLI (`smsgate.hookspecs.CommandContext`)."""

    def load_config(self, path: Path | None = None) -> Any:
        """The config of --config (or `path`), validated with the installed adapters."""
        return load(path)

    def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` with the built-in commands' error handling."""
        return guarded(fn)

    def fail(self, message: str, code: int = 1) -> Exception:
        """Print `error: message`; raise the returned exit."""
        return fail(message, code)


def _register_plugin_commands() -> None:
    from smsgate.plugins import call_each, load_plugins

    try:
        load_plugins()
    except Exception as exc:  # the strict check happens per command; listing must still work
        typer.echo(f"warning: {exc}", err=True)
        return
    # one plugin's broken command must not take the others' (or the built-in ones) down with it
    for plugin, failure in call_each("smsgate_register_commands", app=app, context=_Context()).items():
        message = (f"plugin {plugin!r} failed to register its commands: {type(failure).__name__}: {failure} "
                   f"(skip it with SMSGATE_BLOCK_PLUGINS={plugin})")
        if _state.get("strict"):
            typer.echo(f"error: {message}", err=True)
            raise SystemExit(1) from None
        typer.echo(f"warning: {message}", err=True)


def main() -> None:
    """Console-script entry point."""
    if "--strict" in sys.argv[1:]:
        _state["strict"] = True
        os.environ["SMSGATE_STRICT_PLUGINS"] = "1"
    _register_plugin_commands()
    try:
        code = app(standalone_mode=False)
    except Exception as exc:
        code = _usage_error(exc)
    sys.exit(code if isinstance(code, int) else 0)


def _usage_error(exc: Exception) -> int:
    """Report a Click usage error in one line, `error: <what> (see <command> --help)`, and return its exit code.

    Click (and Typer, which since 0.22 carries its own copy of it) draws a box of several lines instead. The
    classes are matched by name because the two copies' exception classes are different objects.
    """
    kinds = {cls.__name__ for cls in type(exc).__mro__}
    ctx = getattr(exc, "ctx", None)
    if "NoArgsIsHelpError" in kinds and ctx is not None:  # a bare `smsgate`: the help, as asked for
        typer.echo(ctx.get_help())
        return 0
    if "UsageError" in kinds:
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        typer.echo(f"error: {_one_line(exc.format_message()).rstrip('.')}{hint}", err=True)  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    if "ClickException" in kinds:
        typer.echo(f"error: {_one_line(exc.format_message())}", err=True)  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 1))
    if "Abort" in kinds:
        typer.echo("error: aborted", err=True)
        return 130
    raise exc
