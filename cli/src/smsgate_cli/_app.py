"""The `smsgate` Typer app and the options every command shares; each command is a module of `commands/`."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer

MARKUP = None
"""Help text is printed as written: Rich markup would read `[gateway]` as a style tag and drop it."""

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=MARKUP,
                  help="smsgate: connect messaging platforms to SMS aggregators through adapter plugins.")

state: dict[str, Any] = {"debug": False, "config": None, "strict": False}
"""The root options of this run: --debug, --config, --strict."""

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
    state.update(debug=debug, config=config, strict=strict or state["strict"])
    if strict:
        os.environ["SMSGATE_STRICT_PLUGINS"] = "1"
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
