"""The built-in commands, one module each; importing this package registers them on the Typer app."""

from . import adapters, check, console_password, db, logs, messages, outbox, route, send, serve, show

__all__ = ["adapters", "check", "console_password", "db", "logs", "messages", "outbox", "route", "send", "serve",
           "show"]
