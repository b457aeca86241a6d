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
    live: Annotated[bool, typer.Option("--live", help="Try every channel's aggregator now: reachability (TCP, or "
                                                      "its health_url), Kannel's verdict on the credentials, an "
                                                      "SMPP bind; one line per channel.")] = False,
) -> None:
    """Validate the config file and print the channels it defines; a channel that holds a connection (an SMPP
    bind) is tried too, and with --live every channel. Every mistake is one line naming the file, channel and
    field (all of them, not only the first), and a database whose driver is not installed is one too: exit 1 when
    there is any, or when a channel cannot connect."""

    def run() -> bool:
        from smsgate.errors import ConfigError
        from smsgate.store import describe

        try:
            cfg = load(config, check_driver=True)
        except ConfigError as exc:
            for problem in exc.problems:
                typer.echo(f"error: {problem.line}", err=True)
            return False
        problems = {} if offline and not live else asyncio.run(_probe(cfg, every=live))
        where = cfg.path or "(no file: embedded defaults)"
        typer.echo(f"ok: {where}: {len(cfg.channels)} channel(s)")
        typer.echo(f"  database {describe(cfg.gateway.database)}")
        typer.echo(f"  public URL {cfg.gateway.base_url()}")
        for name, channel in cfg.channels.items():
            line = f"  channel {name}: adapter {channel.settings.adapter}, address {channel.settings.address or '-'}"
            if name in problems:
                reason = problems[name]
                line += ", connection ok" if reason is None else f", connection failed: {reason}"
            elif live:
                line += ", nothing to try (the adapter has no probe)"
            typer.echo(line)
        for index, route in enumerate(cfg.routes, start=1):
            typer.echo(f"  route {index}: {_describe(route)}")
        for name, tenant in cfg.tenants.items():
            limits = "".join(f", {key} {value}" for key, value in (("tps", tenant.tps),
                                                                 ("daily_limit", tenant.daily_limit)) if value)
            front = f", Twilio account {tenant.twilio_api.account_sid}" if tenant.twilio_api else ""
            typer.echo(f"  tenant {name}: channels {', '.join(tenant.channels)}{limits}, "
                       f"webhooks: {len(tenant.webhooks)}{front}")
        if cfg.twilio_api is not None:
            typer.echo(f"  Twilio API: account {cfg.twilio_api.account_sid}, default channel "
                       f"{cfg.twilio_api.default_channel or '-'}, incoming messages to "
                       f"{cfg.twilio_api.incoming_url or '-'}")
        return all(reason is None for reason in problems.values())

    if not guarded(run):
        raise typer.Exit(1)


async def _probe(cfg: Any, every: bool = False) -> dict[str, str | None]:
    """The outcome of each channel's `probe()`: of every channel that has one with `every` (--live), else of the
    channels holding a connection (their adapter overrides `start`: an SMPP bind). All at once."""
    from smsgate import Adapter
    from smsgate.http import HttpClient

    http = HttpClient()
    adapters = {}
    for name, channel in cfg.channels.items():
        cls = channel.adapter_cls
        if every or cls.start is not Adapter.start:
            adapter = channel.adapter_cls(channel, http, cfg.gateway.base_url())
            if cls.probe is not Adapter.probe or adapter.probe_url() is not None:
                adapters[name] = adapter

    async def one(adapter: Any) -> str | None:
        try:
            return await adapter.probe()  # type: ignore[no-any-return]
        finally:
            await adapter.stop()

    try:
        outcomes = await asyncio.gather(*(one(a) for a in adapters.values()))
    finally:
        await http.aclose()
    return dict(zip(adapters, outcomes, strict=True))
