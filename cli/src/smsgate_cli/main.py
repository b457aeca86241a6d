"""`smsgate`: list adapters, check the config, send, serve the gateway, show messages and logs.

User errors print one line and exit non-zero; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
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
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


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
    from smsgate import ConfigError, SmsgateError

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
    from smsgate import load_config
    from smsgate.plugins import load_plugins

    load_plugins(strict=_state["strict"] or None)
    return load_config(config or _state["config"])


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console().print(table)


@app.command()
def adapters(as_json: JsonOption = False) -> None:
    """List the installed adapters (the same discovery the gateway uses) and plugins that failed to load."""

    def run() -> None:
        from smsgate.plugins import get_adapters, load_plugins

        failures = load_plugins(strict=_state["strict"] or None)
        found = get_adapters()
        items = [{"name": i.name, "distribution": i.distribution, "version": i.version,
                  "routes": {r.action: list(r.methods) for r in i.adapter.routes.values()},
                  "description": (i.adapter.__doc__ or "").strip().splitlines()[0] if i.adapter.__doc__ else ""}
                 for i in found.values()]
        if as_json:
            _print_json({"adapters": items, "failed": [dataclasses.asdict(f) for f in failures]})
            return
        if not items:
            typer.echo("no adapters installed (pip install smsgate-http, smsgate-kannel or smsgate-twilio)")
        else:
            _table("adapters", ["name", "distribution", "version", "routes"],
                   [[i["name"], i["distribution"], i["version"],
                     ", ".join(f"{a} ({'/'.join(m)})" for a, m in i["routes"].items())] for i in items])
        for failure in failures:
            typer.echo(f"warning: plugin {failure.name!r} ({failure.distribution}) failed to load: {failure.error}",
                       err=True)

    guarded(run)


@app.command()
def check(
    config: ConfigOption = None,
    offline: Annotated[bool, typer.Option("--offline", help="Do not try connection-oriented channels (SMPP "
                                                            "binds); only validate the config.")] = False,
) -> None:
    """Validate the config file; print the channels it defines, and try the connection of channels that hold
    one (an SMPP channel binds and unbinds): exit 1 when one cannot connect."""

    def run() -> bool:
        cfg = load(config)
        where = cfg.path or "(no file: embedded defaults)"
        typer.echo(f"ok: {where}: {len(cfg.channels)} channel(s), database {cfg.gateway.database}, "
                   f"public URL {cfg.gateway.base_url()}")
        problems = {} if offline else asyncio.run(_probe(cfg))
        for name, channel in cfg.channels.items():
            line = f"  {name}: adapter {channel.settings.adapter}, address {channel.settings.address or '-'}"
            if name in problems:
                line += f", connection: {problems[name] or 'ok'}"
            typer.echo(line)
        return all(reason is None for reason in problems.values())

    if not guarded(run):
        raise typer.Exit(1)


async def _probe(cfg: Any) -> dict[str, str | None]:
    """Each channel whose adapter can try its connection (it overrides `probe`), with the outcome."""
    from smsgate import Adapter, HttpClient

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
    text: Annotated[str, typer.Argument(help="The message text.")],
    channel: Annotated[str, typer.Option("--channel", help="Channel name from the config.")],
    to: Annotated[str, typer.Option("--to", help="Recipient (E.164, or local to the channel's country).")],
    message_id: Annotated[str | None, typer.Option("--id", help="Message UUID; the same id is sent once.")] = None,
    attachment: Annotated[list[str] | None, typer.Option("--attachment", help="Attachment URL (repeatable).")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send one message now through the channel's adapter; exit 0 only when the aggregator accepted it."""
    import uuid

    if message_id is not None:
        try:
            message_id = str(uuid.UUID(message_id))
        except ValueError:
            raise fail(f"--id must be a UUID, got {message_id!r}", 2) from None

    def run() -> Any:
        from smsgate import Gateway

        cfg = load(config)

        async def go() -> Any:
            async with Gateway(cfg) as gateway:
                fields: dict[str, Any] = {"attachments": attachment or []}
                if message_id:
                    fields["id"] = message_id
                message = await gateway.prepare(channel, to, text, **fields)
                return await gateway.send(message)

        return asyncio.run(go())

    _report_send(guarded(run), as_json, "already known: not sent again")


def _report_send(outcome: Any, as_json: bool, not_sent_note: str, detail: str = "") -> None:
    """Print a send's outcome (JSON or one line, the error on stderr); exit 1 unless the aggregator accepted it."""
    record = outcome.message
    if as_json:
        _print_json({**record.as_dict(), "sent_now": outcome.sent})
    else:
        note = "" if outcome.sent else f" ({not_sent_note})"
        typer.echo(f"{record.status}{note}: id {record.id}{detail} to {record.to} via {record.channel}, "
                   f"{record.segments} segment(s), external ids {', '.join(record.external_ids) or '-'}")
        if record.error_code:
            typer.echo(f"error: {record.error_code}: {record.error_reason}", err=True)
    if not outcome.ok:
        raise typer.Exit(1)


@app.command()
def resend(
    message_id: Annotated[str, typer.Argument(help="Id of the failed outgoing message.")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send a failed message again now, as a new message (`resend_of` names the original); exit 0 when accepted."""

    def run() -> Any:
        from smsgate import Gateway, MessageInvalid

        cfg = load(config)

        async def go() -> Any:
            async with Gateway(cfg) as gateway:
                try:
                    message = await gateway.prepare_resend(message_id)
                except KeyError:
                    raise fail(f"no message with id {message_id!r} in {cfg.gateway.database}") from None
                except MessageInvalid as exc:
                    raise fail(exc.reason) from None
                return await gateway.send(message)

        return asyncio.run(go())

    _report_send(guarded(run), as_json, "resent before: not sent again", f" (resend of {message_id})")


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

        import uvicorn
        from smsgate import Gateway, create_app

        cfg = load(config)
        gateway = Gateway(cfg)
        application = create_app(gateway, own_gateway=True, background=True)
        bind_host = host or cfg.gateway.host
        bind_port = cfg.gateway.port if port is None else port
        typer.echo(f"smsgate serving {len(cfg.channels)} channel(s) on http://{bind_host}:{bind_port} "
                   f"(public URL {gateway.public_url}, database {cfg.gateway.database})", err=True)
        api = "on" if cfg.gateway.api_token else "off (set [gateway] api_token)"
        typer.echo(f"  API /api/v1: {api}; webhooks: {len(cfg.gateway.webhooks)}; bridges: "
                   f"{', '.join(f'/b/{n}/send' for n in cfg.bridges) or 'none'}", err=True)
        # Everything loaded so far (pydantic models, phonenumbers' metadata, the plugins) lives until exit: out
        # of the collector's sight, each request's garbage collections scan only that request's objects
        # (GC time under ingest load: 7% -> 3%).
        gc.freeze()
        uvicorn.run(application, host=bind_host, port=bind_port, log_level=log_level, access_log=False,
                    timeout_graceful_shutdown=5)

    guarded(run)


@app.command()
def messages(
    channel: Annotated[str | None, typer.Option(help="Only this channel.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    direction: Annotated[str | None, typer.Option(help="'in' or 'out'.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show stored messages, newest first."""
    if direction not in (None, "in", "out"):
        raise fail("--direction must be 'in' or 'out'", 2)

    records = _read_store(config, lambda store: store.list_messages(channel=channel, status=status,
                                                                    direction=direction, limit=limit))
    if as_json:
        _print_json([r.as_dict() for r in records])
        return
    _table("messages", ["created", "dir", "channel", "from", "to", "status", "text", "id"],
           [[r.created_at[:19], r.direction, r.channel, r.from_, r.to, r.status,
             r.text if len(r.text) <= 60 else r.text[:57] + "...", r.id] for r in records])


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
    message_id: Annotated[str, typer.Argument(help="The message id.")],
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
    typer.echo(f"{record.id}  {record.direction} via {record.channel}  {record.from_} -> {record.to}")
    typer.echo(f"status {record.status}, {record.attempts} attempt(s), {record.segments} segment(s), "
               f"external ids {', '.join(record.external_ids) or '-'}")
    if record.error_code:
        typer.echo(f"error {record.error_code}: {record.error_reason}")
    typer.echo(f"text: {record.text}")
    _table("history", ["at", "status", "applied", "external id", "error"],
           [[h["at"][:23], h["status"], "yes" if h["applied"] else "no (older or repeated)", h["external_id"] or "",
             f"{h['error_code']}: {h['error_reason']}" if h["error_code"] else ""] for h in record.history])


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
           [[i["created_at"][:19], i["type"], i["target"], i["attempts"], (i["next_attempt_at"] or "")[:19],
             i["last_error"] or "", (i["done_at"] or "")[:19]] for i in items])


def _read_store(config: Path | None, read: Callable[[Any], Awaitable[T]]) -> T:
    """Open the configured database, run `read(store)`, close it; errors as one line."""

    def run() -> T:
        from smsgate import SQLiteStore

        cfg = load(config)

        async def go() -> T:
            store = SQLiteStore(cfg.gateway.database)
            try:
                return await read(store)
            finally:
                await store.close()

        return asyncio.run(go())

    return guarded(run)


def _register_plugin_commands() -> None:
    from smsgate.plugins import load_plugins, pm

    try:
        load_plugins()
    except Exception as exc:  # the strict check happens per command; listing must still work
        typer.echo(f"warning: {exc}", err=True)
        return
    # one plugin's broken command must not take the others' (or the built-in ones) down with it
    for impl in pm.hook.smsgate_register_commands.get_hookimpls():
        try:
            impl.function(app=app)
        except Exception as exc:
            message = (f"plugin {impl.plugin_name!r} failed to register its commands: {type(exc).__name__}: {exc} "
                       f"(skip it with SMSGATE_BLOCK_PLUGINS={impl.plugin_name})")
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
    app()
