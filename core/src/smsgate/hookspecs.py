"""The hooks smsgate calls, and the types they pass (`Channel`, `Config`, `CommandContext`). Plugins implement
them with `@smsgate.hookimpl`; every hook is documented in docs/plugin-hooks.md (a test fails if one is not)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pluggy

from ._adapter import Adapter
from ._models import IncomingMessage, OptOut, OutgoingMessage, SendResult, Status, StatusUpdate
from .config._settings import Channel, Config

__all__ = ["Channel", "CommandContext", "Config", "hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("smsgate")
hookimpl = pluggy.HookimplMarker("smsgate")
T = TypeVar("T")


class CommandContext(Protocol):
    """What the `smsgate` command offers a plugin's sub-commands (instead of the CLI's internals)."""

    def load_config(self, path: Path | None = None) -> Config:
        """The config of `--config` (or `path`, $SMSGATE_CONFIG, ./smsgate.toml), validated with the installed
        adapters."""

    def run(self, fn: Callable[[], T]) -> T:
        """Run `fn`, turning smsgate's errors into one `error: ...` line and an exit status (a traceback with
        --debug)."""

    def fail(self, message: str, code: int = 1) -> Exception:
        """Print `error: message` to stderr; raise what this returns to exit with `code`."""


@hookspec
def smsgate_register_adapters(register: Callable[[type[Adapter[Any]]], None]) -> None:
    """Call `register(AdapterClass)` for each adapter this plugin provides; channels pick one by name."""


@hookspec
def smsgate_register_commands(app: Any, context: CommandContext) -> None:
    """Add sub-commands to the `smsgate` Typer `app`; `context` loads the config and reports errors as the
    built-in commands do."""


@hookspec(firstresult=True)
def smsgate_before_send(message: OutgoingMessage, channel: Channel) -> OutgoingMessage | str | None:
    """Before a send: return None to continue, a new message to send instead, or a string to veto (the reason)."""


@hookspec
def smsgate_after_send(message: OutgoingMessage, result: SendResult, channel: Channel) -> None:
    """After a send attempt was recorded, whatever its outcome."""


@hookspec
def smsgate_message_received(message: IncomingMessage, channel: Channel) -> None:
    """After an incoming message was durably stored (not called again for a duplicate delivery)."""


@hookspec
def smsgate_status_changed(update: StatusUpdate, previous: Status | None, current: Status,
                           channel: Channel) -> None:
    """After a message's status moved forward (`previous` is None for a message first seen)."""


@hookspec
def smsgate_opted_out(event: OptOut, channel: Channel) -> None:
    """After an opt-out (a stop request or an aggregator's opted-out error) was stored."""


@hookspec
def smsgate_adapter_started(adapter: Adapter[Any]) -> None:
    """After a gateway built the adapter instance serving a channel (e.g. to warm a cache)."""
