"""`smsgate adapters`: the installed adapters, found the way the gateway finds them."""

from __future__ import annotations

import dataclasses
from typing import Any

import typer

from .._app import JsonOption, app, state
from .._context import guarded
from .._render import print_json, table


@app.command()
def adapters(as_json: JsonOption = False) -> None:
    """List the installed adapters (the same discovery the gateway uses) and plugins that failed to load."""

    def run() -> None:
        from smsgate.host import get_adapters, load_plugins

        failures = load_plugins(strict=state["strict"] or None)
        found = get_adapters()
        items: list[dict[str, Any]] = [{"name": i.name, "distribution": i.distribution, "version": i.version,
                  "routes": {r.action: list(r.methods) for r in i.adapter.routes.values()},
                  "description": (i.adapter.__doc__ or "").strip().splitlines()[0] if i.adapter.__doc__ else ""}
                 for i in found.values()]
        if as_json:
            print_json({"adapters": items, "failed": [dataclasses.asdict(f) for f in failures]})
            return
        if not items:
            from smsgate.plugins import loading_note

            typer.echo(f"no adapters loaded ({loading_note()})" if loading_note() else
                       "no adapters installed (pip install smsgate-http, smsgate-kannel or smsgate-twilio)")
        else:
            table("adapters", ["name", "distribution", "version", "routes"],
                   [[i["name"], i["distribution"], i["version"],
                     ", ".join(f"{a} ({'/'.join(m)})" for a, m in i["routes"].items())] for i in items],
                   text=("routes",))
        for failure in failures:
            typer.echo(f"warning: plugin {failure.name!r} ({failure.distribution}) failed to load: {failure.error}",
                       err=True)

    guarded(run)
