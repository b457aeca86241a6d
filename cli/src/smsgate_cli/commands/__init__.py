"""The built-in commands, one module each; importing this package registers them on the Typer app."""

from . import adapter, adapters, check, console_password, db, logs, messages, outbox, route, send, serve, show

__all__ = ["adapter", "adapters", "check", "console_password", "db", "logs", "messages", "outbox", "route", "send",
           "serve", "show"]
