"""`smsgate console-password`: the hash of a password for the /ui console."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .._app import app
from .._context import fail


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
