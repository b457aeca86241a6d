"""`smsgate check`: validate the config and try the connections of channels that hold one."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from .._app import ConfigOption, app
from .._context import guarded, load
from .route import _describe


@app.command()
def check(
    config: ConfigOption = None,
    offline: Annotated[bool, typer.Option("--offline", help="Only validate the config: do not try the connection "
                                                            "of channels that hold one (SMPP binds).")] = False,
) -> None:
    """Validate the config file and print the channels it defines; a channel that holds a connection (an SMPP
    bind) is tried too. Every mistake is one line naming the file, channel and field (all of them, not only the
    first), and a database whose driver is not installed is one too: exit 1 when there is any."""

    def run() -> bool:
        from smsgate.errors import ConfigError
        from smsgate.store import describe

        try:
            cfg = load(config, check_driver=True)
        except ConfigError as exc:
            for problem in exc.problems:
                typer.echo(f"error: {problem.line}", err=True)
            return False
        problems = {} if offline else asyncio.run(_probe(cfg))
        where = cfg.path or "(no file: embedded defaults)"
        typer.echo(f"ok: {where}: {len(cfg.channels)} channel(s)")
        typer.echo(f"  database {describe(cfg.gateway.database)}")
        typer.echo(f"  public URL {cfg.gateway.base_url()}")
        for name, channel in cfg.channels.items():
            line = f"  channel {name}: adapter {channel.settings.adapter}, address {channel.settings.address or '-'}"
            if name in problems:
                line += f", connection {problems[name] or 'ok'}"
            typer.echo(line)
        for index, route in enumerate(cfg.routes, start=1):
            typer.echo(f"  route {index}: {_describe(route)}")
        for name, tenant in cfg.tenants.items():
            limits = "".join(f", {key} {value}" for key, value in (("tps", tenant.tps),
                                                                 ("daily_limit", tenant.daily_limit)) if value)
            typer.echo(f"  tenant {name}: channels {', '.join(tenant.channels)}{limits}, "
                       f"webhooks: {len(tenant.webhooks)}")
        return all(reason is None for reason in problems.values())

    if not guarded(run):
        raise typer.Exit(1)


async def _probe(cfg: Any) -> dict[str, str | None]:
    """Each channel whose adapter can try its connection (it overrides `probe`), with the outcome."""
    from smsgate import Adapter
    from smsgate.http import HttpClient

    http = HttpClient()
    found: dict[str, str | None] = {}
    try:
        for name, channel in cfg.channels.items():
            if channel.adapter_cls.probe is Adapter.probe:
                continue
            adapter = channel.adapter_cls(channel, http, cfg.gateway.base_url())
            try:
                found[name] = await adapter.probe()
            finally:
                await adapter.stop()
    finally:
        await http.aclose()
    return found
