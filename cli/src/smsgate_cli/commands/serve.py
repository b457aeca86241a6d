"""`smsgate serve`: the gateway, with uvicorn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Annotated

import typer

from .._app import ConfigOption, app, state
from .._context import fail, guarded, load


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Override [gateway] host.")] = None,
    port: Annotated[int | None, typer.Option(help="Override [gateway] port.")] = None,
    log_level: Annotated[str, typer.Option(
        help="What smsgate (and uvicorn) log: debug, info (links going up and down, and the lines below), warning "
             "(each failed send attempt, each link down), error (each message that ends failed), critical.")
    ] = "info",
    log_format: Annotated[str, typer.Option(
        help="text: one line per event for people; json: one JSON object per line (ts, level, logger, message, "
             "and fields such as channel and message_id) for log shippers.")] = "text",
    split: Annotated[bool, typer.Option(help="Serve HTTP in this process and send from a second one on the same "
                                             "database (both cores; see docs/scaling.md).")] = False,
) -> None:
    """Run the gateway with uvicorn: channel callbacks, the /api/v1 API, bridges, the Twilio front, the send worker
    and webhooks.

    Exit 3 when the port cannot be taken (`port 8080 is already in use`), before anything starts.
    """

    def run() -> None:
        import gc

        from smsgate.host import PortUnavailable, configure_logging, create_app, listen, open_gateway
        from smsgate.host import serve as run_server
        from smsgate.store import describe, schema_status

        try:  # before anything logs: a dead aggregator's failed attempts must reach the operator
            configure_logging("debug" if state["debug"] else log_level, log_format.lower())
        except ValueError as exc:
            raise fail(f"{exc} (see smsgate serve --help)", 2) from None
        say = _announcer(log_format.lower())
        cfg = load(config)
        database = describe(cfg.gateway.database)
        # PostgreSQL is migrated by `smsgate db upgrade`, once, not by whichever instance starts first: an instance
        # finding the schema behind stops here with one line instead of answering 503 to everything
        version, lacking = asyncio.run(schema_status(cfg.gateway.database))
        if lacking:
            raise fail(f"database {database} is at schema version {version}; this smsgate needs migration(s) "
                       f"{', '.join(map(str, lacking))}: run `smsgate db upgrade` first", 2)
        bind_host = host or cfg.gateway.host
        try:  # before anything says "serving": a busy port is one line and exit 3
            sock = listen(bind_host, cfg.gateway.port if port is None else port)
        except PortUnavailable as exc:
            raise fail(str(exc.strerror), 3) from None
        bind_port = sock.getsockname()[1]
        if split:
            from smsgate.host import serve_split

            say(f"smsgate serving on http://{bind_host}:{bind_port} and sending from a second process "
                f"(database {database})")
            gc.freeze()
            serve_split(cfg, log_level="debug" if state["debug"] else log_level.lower(), sock=sock, own_logging=True)
            return
        gateway = open_gateway(cfg)
        application = create_app(gateway, own_gateway=True, background=True)
        say(f"smsgate serving {len(cfg.channels)} channel(s) on http://{bind_host}:{bind_port} "
            f"(public URL {gateway.public_url}, database {database})")
        api = "on" if cfg.gateway.api_token else "off (set [gateway] api_token)"
        say(f"  API /api/v1: {api}; webhooks: {len(cfg.gateway.webhooks)}; bridges: "
            f"{', '.join(f'/b/{n}/send' for n in cfg.bridges) or 'none'}")
        signin = cfg.gateway.api_token or cfg.gateway.console_password_hash
        console = ("on (sign in with the api_token" + (" or the console password)" if cfg.gateway.console_password_hash
                                                       else ")")) if signin else "off (set [gateway] api_token)"
        metrics = ("public" if cfg.gateway.metrics_public else "on (bearer api_token)" if cfg.gateway.api_token
                   else "off (set [gateway] api_token or metrics_public)")
        say(f"  console {gateway.public_url}/ui: {console}; metrics /metrics: {metrics}")
        if cfg.twilio_api is not None:
            incoming = cfg.twilio_api.incoming_url or "none (set [twilio_api] incoming_url)"
            say(f"  Twilio API {gateway.public_url}/2010-04-01: account {cfg.twilio_api.account_sid}; "
                f"incoming messages to {incoming}")
        # Everything loaded so far (pydantic models, phonenumbers' metadata, the plugins) lives until exit: out
        # of the collector's sight, each request's garbage collections scan only that request's objects
        # (GC time under ingest load: 7% -> 3%).
        gc.freeze()
        run_server(application, cfg.gateway, host=bind_host, port=bind_port,
                   log_level="debug" if state["debug"] else log_level.lower(), sock=sock, own_logging=True)

    guarded(run)


def _announcer(log_format: str) -> Callable[[str], None]:
    """How the start-up summary is printed: plain lines on stderr, or (json) log records like everything else, so
    a log shipper reads only JSON."""
    if log_format != "json":
        return lambda line: typer.echo(line, err=True)
    logger = logging.getLogger("smsgate.serve")

    def log(line: str) -> None:
        logger.info(line.strip())

    return log
