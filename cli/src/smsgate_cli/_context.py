"""What every command shares: one-line errors, the config, the read-only store, the plugins' context."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from ._app import state

T = TypeVar("T")


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
        if state["debug"]:
            raise
        raise fail(str(exc), 2) from None
    except SmsgateError as exc:
        if state["debug"]:
            raise
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:
        if state["debug"]:
            raise
        raise fail(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)") from None


def load(config: Path | None = None, *, reading: bool = False, check_driver: bool = False) -> Any:
    """Load the config named by --config (the command's or the global one), $SMSGATE_CONFIG or ./smsgate.toml.

    `reading`: for commands that only read the store, a channel whose adapter is not installed is left out with
    one warning naming the adapter, so a box without every adapter can still look at what is stored.
    """
    from smsgate.host import installed_adapters, load_config, load_plugins
    from smsgate.plugins import loading_note

    load_plugins(strict=state["strict"] or None)
    cfg = load_config(config or state["config"], installed_adapters(), why_missing=loading_note(),
                      skip_missing_adapters=reading, check_driver=check_driver)
    by_adapter: dict[str, list[str]] = {}
    for channel, adapter in cfg.unavailable.items():
        by_adapter.setdefault(adapter, []).append(channel)
    for adapter, names in by_adapter.items():
        typer.echo(f"warning: adapter {adapter!r} is not installed (channel(s) {', '.join(names)}): reading what "
                   f"is stored only ({loading_note() or 'pip install the distribution that provides it'})", err=True)
    return cfg


def read_store(config: Path | None, read: Callable[..., Awaitable[T]], *, with_config: bool = False) -> T:
    """Open the configured database read-only, run `read(store)` (`read(store, config)` with `with_config`),
    close it; errors as one line.

    Read-only so that a wrong path is an error naming it, not a new empty database (and folder) listing nothing.
    """

    def run() -> T:
        from smsgate.errors import StoreInvalid
        from smsgate.store import describe, open_store

        cfg = load(config, reading=True)
        path = describe(cfg.gateway.database)
        where = f"[gateway] database in {cfg.path}" if cfg.path else "no config file, so the default"
        try:
            store = open_store(cfg.gateway.database, readonly=True)
        except FileNotFoundError:
            raise fail(f"no database at {path} ({where}; `smsgate serve` or `smsgate send` creates it)") from None
        except StoreInvalid as exc:
            raise fail(f"{exc} ({where})") from None

        async def go() -> T:
            try:
                return await (read(store, cfg) if with_config else read(store))
            finally:
                await store.close()

        return asyncio.run(go())

    return guarded(run)


class Context:
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


