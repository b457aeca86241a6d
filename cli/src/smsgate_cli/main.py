"""`smsgate`: list adapters, check the config, send, serve the gateway, show messages and logs, manage the database.

User errors print one line and exit non-zero (2 for usage and config errors); `--debug` shows the traceback
instead. A `send` or `resend` from here is a test send: its outcome is final, never retried later by a gateway.
Each command is a module of `commands/`; plugins add theirs through the `smsgate_register_commands` hook.
"""

from __future__ import annotations

import os
import sys

import typer

from . import commands  # registers the built-in commands
from ._app import app, state
from ._context import Context
from ._render import one_line

__all__ = ["app", "commands", "main"]


def _register_plugin_commands() -> None:
    from smsgate.plugins import call_each, load_plugins

    try:
        load_plugins()
    except Exception as exc:  # the strict check happens per command; listing must still work
        typer.echo(f"warning: {exc}", err=True)
        return
    # one plugin's broken command must not take the others' (or the built-in ones) down with it
    for plugin, failure in call_each("smsgate_register_commands", app=app, context=Context()).items():
        message = (f"plugin {plugin!r} failed to register its commands: {type(failure).__name__}: {failure} "
                   f"(skip it with SMSGATE_BLOCK_PLUGINS={plugin})")
        if state.get("strict"):
            typer.echo(f"error: {message}", err=True)
            raise SystemExit(1) from None
        typer.echo(f"warning: {message}", err=True)


def main() -> None:
    """Console-script entry point."""
    if "--strict" in sys.argv[1:]:
        state["strict"] = True
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
        typer.echo(f"error: {one_line(exc.format_message()).rstrip('.')}{hint}", err=True)  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    if "ClickException" in kinds:
        typer.echo(f"error: {one_line(exc.format_message())}", err=True)  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 1))
    if "Abort" in kinds:
        typer.echo("error: aborted", err=True)
        return 130
    raise exc
