"""The `smsgate` command-line interface (Typer)."""

from .main import app, main

__all__ = ["app", "main"]
