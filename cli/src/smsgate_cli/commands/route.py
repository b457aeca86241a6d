"""`smsgate route`: which route and channel a number takes now, and why."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .._app import ConfigOption, JsonOption, app
from .._context import fail, guarded, load
from .._render import print_json


@app.command()
def route(
    number: Annotated[str, typer.Argument(metavar="NUMBER", help="The recipient, E.164 or local as a sender "
                                                                 "would write it.")],
    tenant: Annotated[str | None, typer.Option("--tenant", help="As this [tenants.<name>] sees it: only its "
                                                                "channels.")] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Explain which [[routes]] entry and channel a message to NUMBER without a channel would take now: each
    route in order, whether it matches and why not, and its channels in failover order with their link state.
    Exit 1 when no route matches."""

    def run() -> list[Any]:
        cfg = load(config)
        if tenant is not None and tenant not in cfg.tenants:
            raise fail(f"unknown tenant {tenant!r} (known: {', '.join(sorted(cfg.tenants)) or 'none configured'})",
                       2)
        if not cfg.routes:
            raise fail("the config has no [[routes]]: every send names its channel", 2)
        allowed = cfg.tenants[tenant].channels if tenant is not None else None
        return list(_router(cfg).explain(number, allowed))

    verdicts = guarded(run)
    chosen = next((v for v in verdicts if v.matches), None)
    if as_json:
        print_json({"number": number, "tenant": tenant, "route": chosen.index + 1 if chosen else None,
                    "channel": chosen.pick if chosen else None, "routes": [
                        {"route": v.index + 1, "matches": v.matches, "why": v.why, "strategy": v.route.strategy,
                         "channels": [{"channel": c, "to": to, "link": "down" if down else "up", "down": down}
                                      for c, to, down in v.candidates]} for v in verdicts]})
    else:
        if chosen is not None:
            typer.echo(f"{chosen.candidates[0][1]} takes route {chosen.index + 1} and channel {chosen.pick}, now")
        for v in verdicts:
            typer.echo(f"  route {v.index + 1}: {_describe(v.route)} -> {v.why}")
            for position, (channel, to, down) in enumerate(v.candidates, start=1):
                link = f"link down: {down}" if down else "link up"
                typer.echo(f"    {position}. {channel}  {to}  {link}")
        if chosen is not None and chosen.route.strategy != "failover":
            typer.echo(f"  ({chosen.route.strategy}: each message takes the next channel in turn; this is the "
                       "next one this process would pick)")
    if chosen is None:
        reason = "no route matches" + (f" among tenant {tenant}'s channels" if tenant else "")
        typer.echo(f"error: {reason} {number!r}: a send without a channel is refused (422)", err=True)
        raise typer.Exit(1)


def _describe(route: Any) -> str:
    """One route as a line: what it matches, its channels and its strategy."""
    parts = []
    if route.to:
        parts.append(f"to {', '.join(route.to)}")
    if route.country:
        parts.append(f"country {', '.join(route.country)}")
    if not parts:
        parts.append("any number")
    weights = f" {route.weights}" if route.weights else ""
    return f"{'; '.join(parts)}; channels {', '.join(route.channels)}; {route.strategy}{weights}"


def _router(cfg: Any) -> Any:
    """The config's routes over its channels, as `smsgate serve` builds them. The link state is what this process
    knows: an adapter that holds a connection (an SMPP bind) reports it once started, so here links read as up
    unless a channel's adapter says otherwise."""
    from smsgate.host import Channels, Router
    from smsgate.http import HttpClient

    http = HttpClient()
    adapters = {name: channel.adapter_cls(channel, http, cfg.gateway.base_url())
                for name, channel in cfg.channels.items()}
    channels = Channels(adapters)
    return Router(cfg.routes, channels, channels.down)
