"""`smsgate adapter new NAME`: start a new adapter distribution that passes its own tests at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._app import app
from .._context import fail

adapter_app = typer.Typer(no_args_is_help=True, help="Write new adapter plugins.")
app.add_typer(adapter_app, name="adapter")


@adapter_app.command("new")
def adapter_new(
    name: Annotated[str, typer.Argument(help="The adapter's name: its entry point, `adapter = ...` in channels, "
                                             "and the distribution smsgate-NAME.")],
    directory: Annotated[Path | None, typer.Option(
        "--dir", help="Folder to create NAME/ in (default: the checkout's adapters/ inside a smsgate checkout, "
                      "else the current folder).")] = None,
    aggregator: Annotated[str | None, typer.Option(
        "--aggregator", help="The aggregator's name as people write it, e.g. \"Africa's Talking\".")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
) -> None:
    """Write adapters/NAME/ (smsgate-NAME: settings, adapter, status table, kit tests, README) and cassettes/NAME/.

    The adapter sends, receives and takes delivery reports for an example JSON API; its tests pass as written.
    Inside a smsgate checkout it is also added to requirements/project.in and to mypy's files.
    """
    from .._scaffold import ScaffoldError, plan, write

    try:
        scaffold = plan(name, directory, aggregator, force=force)
        changed = write(scaffold)
    except (ScaffoldError, OSError) as exc:
        raise fail(str(exc), 2 if isinstance(exc, ScaffoldError) else 1) from None
    here = Path.cwd()

    def show(path: Path) -> str:
        return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)

    folder = show(scaffold.folder)
    typer.echo(f"wrote {len(scaffold.files)} files for adapter {name!r} ({scaffold.aggregator}): {folder}/ and "
               f"{show(scaffold.cassettes)}/")
    for changed_file in changed:
        typer.echo(f"added {name} to {changed_file}")
    typer.echo("next steps:")
    steps = []
    if scaffold.repository is None:
        steps += [f"pip install -e {folder}                   # or, in a smsgate checkout: list it in "
                  "requirements/project.in and in [tool.mypy] files of pyproject.toml"]
        steps += [f"python -m pytest {folder}                 # its tests pass as written"]
    else:
        steps += ["scripts/install --dev                 # installs it (editable), as every adapter",
                  "scripts/lock                          # the locks' `# via` lines name the new distribution",
                  f".venv/bin/python -m pytest {folder}  # its tests pass as written"]
    steps += [f"fill in {folder}/src/smsgate_{scaffold.package}/ from the aggregator's API reference and courier's "
              "handler, case by case in the tests; list each difference from courier in its README",
              f"record cassettes against a local stand-in into {show(scaffold.cassettes)}/ (see its README)"]
    if scaffold.repository is not None:
        steps += ["add it to README.md's adapter table, and its name to the stand-in loop of scripts/record-cassettes"]
    for number, step in enumerate(steps, 1):
        typer.echo(f"  {number}. {step}")
