"""`smsgate kannel-config`: the kannel.conf groups an operator pastes so Kannel talks to a smsgate channel."""

# No `from __future__ import annotations` here: Typer reads the command's annotations at run time, and the
# names they use (typer, Annotated) are only imported inside register_command.
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smsgate.errors import ConfigError

if TYPE_CHECKING:
    from smsgate.hookspecs import CommandContext, Config

__all__ = ["GET_URL_QUERY", "kannel_config_text", "receive_get_url", "register_command"]

#: The get-url query: Kannel's escapes for sender, receiver, url-encoded text, unix time, message id, coding
#: and charset (what the `receive` route reads).
GET_URL_QUERY = "sender=%p&to=%P&message=%a&ts=%T&id=%I&coding=%c&charset=%C"

_UNSAFE = ('"', "\\", "\n", "\r", "\t", " ")


def receive_get_url(public_url: str, channel_name: str) -> str:
    """The sms-service get-url pointing at `channel_name`'s receive route under `public_url`."""
    base = f"{public_url.rstrip('/')}/c/{urllib.parse.quote(channel_name, safe='')}/receive"
    if any(c in base for c in _UNSAFE):
        raise ConfigError(f"public URL {public_url!r} cannot be written in kannel.conf (quotes, backslashes or "
                          "spaces)")
    # Kannel reads every '%' of a get-url as the start of an escape code; '%%' is a literal '%'
    return base.replace("%", "%%") + "?" + GET_URL_QUERY


def kannel_config_text(config: "Config", channel_name: str) -> str:
    """The sms-service group (plus commented sendsms-user and SMPP smsc examples) for a `kannel` channel."""
    channel = config.channel(channel_name)
    if channel.settings.adapter != "kannel":
        raise ConfigError(f"channel {channel_name!r} uses adapter {channel.settings.adapter!r}, not 'kannel'",
                          file=str(config.path) if config.path else None)
    settings: Any = channel.settings
    get_url = receive_get_url(config.gateway.base_url(), channel_name)
    smsc_id = settings.smsc or "aggregator"
    # Kannel 1.4.5 load-balances a sendsms smsc= across every SMSC that does not refuse it (seen here): allowed-
    # keeps other traffic off this connection, preferred makes it win for the channel's own messages
    routing = f"#allowed-smsc-id = {smsc_id}\n#preferred-smsc-id = {smsc_id}\n" if settings.smsc else ""
    return f"""\
# kannel.conf groups for smsgate channel {channel_name!r}, printed by `smsgate kannel-config --channel {channel_name}`.

# Every mobile-originated message goes to smsgate. max-messages = 0: Kannel never texts smsgate's HTTP answer
# back to the handset (without it the phone would get the JSON reply, or "<Empty reply from service provider>").
group = sms-service
keyword = default
catch-all = true
max-messages = 0
get-url = "{get_url}"

# The account smsgate sends with (the channel's `username` and `password`; `send_url` points at smsbox's
# sendsms-port, path /cgi-bin/sendsms):
#group = sendsms-user
#username = "{settings.username}"
#password = "<the channel's password>"
#concatenation = true
#max-messages = 10

# An SMPP connection to your aggregator's SMSC (replace the values with those your aggregator gave you;
# Kannel refuses to start without system-type, even empty). With the channel's `smsc` key set, allowed-smsc-id
# and preferred-smsc-id send its messages here and nothing else: Kannel otherwise spreads smsc= over all SMSCs.
#group = smsc
#smsc = smpp
#smsc-id = {smsc_id}
{routing}#host = smpp.aggregator.example
#port = 2775
#transceiver-mode = true
#smsc-username = "<system_id>"
#smsc-password = "<smpp password>"
#system-type = ""
#source-addr-ton = 0
#source-addr-npi = 1
#dest-addr-ton = 1
#dest-addr-npi = 1
#enquire-link-interval = 30
#reconnect-delay = 10
#max-pending-submits = 10
"""


def register_command(app: Any, context: "CommandContext") -> None:
    """Register `kannel-config` on the smsgate Typer app."""
    from typing import Annotated

    import typer

    @app.command("kannel-config")  # type: ignore[untyped-decorator]
    def kannel_config(
        channel: Annotated[str, typer.Option("--channel", help="Name of a `kannel` channel in the config.")],
        config: Annotated[Path | None, typer.Option("--config", "-c", help="Config file (default: $SMSGATE_CONFIG "
                                                                           "or ./smsgate.toml).")] = None,
    ) -> None:
        """Print the kannel.conf sms-service group (and SMSC examples) that connects Kannel to a channel."""
        typer.echo(context.run(lambda: kannel_config_text(context.load_config(config), channel)), nl=False)
