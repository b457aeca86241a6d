"""Configuration: a TOML file plus `SMSGATE_*` environment overrides, validated per adapter."""

from __future__ import annotations

import base64
import binascii
import os
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ..errors import ConfigError

__all__ = [
    "AdapterClass",
    "BridgeSettings",
    "Channel",
    "ChannelSettings",
    "Config",
    "config_from_dict",
    "GatewaySettings",
    "TwilioApiSettings",
    "default_config_path",
    "load_config",
    "WebhookSettings",
]

DEFAULT_CONFIG = "smsgate.toml"

WEBHOOK_EVENTS = ("message.received", "message.status_changed", "contact.opted_out")


def _http_url(value: str) -> str:
    value = value.strip()
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value


class WebhookSettings(BaseModel):
    """One `[[gateway.webhooks]]` entry: a URL that receives signed platform events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="Where events are POSTed as JSON.")
    secret: SecretStr = Field(description="Signing key: `whsec_` + base64 (Standard Webhooks), or any other "
                                          "string used as raw bytes.")
    events: list[Literal["message.received", "message.status_changed", "contact.opted_out"]] | None = Field(
        None, description="Event types to send (default: all).")
    timeout: float = Field(10.0, gt=0, description="Seconds to wait for the receiver's answer.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if not _webhook_key(value.get_secret_value()):
            raise ValueError("must not be empty")
        return value

    def key(self) -> bytes:
        """The HMAC key: the base64-decoded part of a `whsec_` secret, else the secret's UTF-8 bytes."""
        return _webhook_key(self.secret.get_secret_value())


def _webhook_key(secret: str) -> bytes:
    if not secret.startswith("whsec_"):
        return secret.encode()
    encoded = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a whsec_ secret must continue in base64 (as Standard Webhooks secrets do)") from None


class BridgeSettings(BaseModel):
    """A `[bridges.<name>]` table: a messaging platform talking to smsgate through one channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: Literal["rapidpro"] = Field(description="The platform's protocol; `rapidpro` is its External API.")
    channel: str = Field(description="The smsgate channel that carries the platform's messages.")
    receive_url: str = Field(description="The platform's channel base URL, e.g. https://rp.example/c/ex/<uuid>.")
    secret: SecretStr = Field(description="Shared secret the platform sends to /b/<name>/send (Authorization "
                                          "header or `secret` query parameter).")

    @field_validator("receive_url")
    @classmethod
    def _receive_url(cls, value: str) -> str:
        return _http_url(value).rstrip("/")

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 8:
            raise ValueError("must be at least 8 characters (it guards sending SMS on your account)")
        return value


_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")


class TwilioApiSettings(BaseModel):
    """The `[twilio_api]` table: smsgate serves Twilio's Messages API (2010-04-01) for one account, so Twilio's
    SDKs send through smsgate's channels unchanged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_sid: str = Field(description="The account SID clients put in the URL and as the Basic-auth user: "
                                         "`AC` and 32 hex digits.")
    auth_token: SecretStr = Field(description="The Basic-auth password; also signs status callbacks and incoming "
                                              "webhooks (X-Twilio-Signature). At least 16 characters.")
    incoming_url: str | None = Field(None, description="Where messages received on the channels are POSTed as "
                                                       "Twilio's incoming-message webhook; TwiML <Message> replies "
                                                       "go back through the same channel.")
    default_channel: str | None = Field(None, description="The channel a message goes out on when its From is no "
                                                          "channel's address (default: the only channel, if there "
                                                          "is one).")

    @field_validator("account_sid")
    @classmethod
    def _account_sid(cls, value: str) -> str:
        value = value.strip()
        if not _ACCOUNT_SID.fullmatch(value):
            raise ValueError("must be 'AC' and 32 hex digits, as Twilio's account SIDs are")
        return value

    @field_validator("auth_token")
    @classmethod
    def _auth_token(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().strip()) < 16:
            raise ValueError("must be at least 16 characters (it guards sending SMS on your account)")
        return value

    @field_validator("incoming_url")
    @classmethod
    def _incoming_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value)


class GatewaySettings(BaseModel):
    """The `[gateway]` table: where the gateway listens, how aggregators reach it, where it stores."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Interface `smsgate serve` listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port `smsgate serve` listens on.")
    public_url: str = Field("", description="Base URL aggregators call back on; default http://host:port.")
    database: str = Field("smsgate.sqlite3", description="Where messages, statuses and logs are stored: a SQLite "
                                                         "file (a path or sqlite:///path), or postgresql://user:"
                                                         "password@host:port/db for several instances on one "
                                                         "database.")
    synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL", description="SQLite fsync policy: FULL survives power loss, NORMAL only process crashes "
                            "(PostgreSQL follows its server's synchronous_commit).")
    http_backend: Literal["aiohttp", "httpcore"] = Field(
        "aiohttp", description="What carries adapters' httpx requests: aiohttp (about twice as fast) or httpcore.")
    api_token: SecretStr | None = Field(None, description="Bearer token required by the outbound HTTP API.")
    metrics_public: bool = Field(False, description="Serve /metrics without the api_token (a scraper on a private "
                                                    "network).")
    console_password_hash: SecretStr | None = Field(
        None, description="scrypt hash of a password that signs in to the /ui console besides the api_token "
                          "(`smsgate console-password` makes one).")
    trust_proxy: bool = Field(False, description="Honour X-Forwarded-Proto/Host when rebuilding request URLs.")
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="Inbound bodies larger than this get a 413.")
    header_timeout: float = Field(10.0, gt=0, description="Seconds a client has to send a request's headers "
                                                          "(from connecting or its previous response); then dropped.")
    body_timeout: float = Field(30.0, gt=0, description="Seconds a client has to send a request's headers and "
                                                        "whole body; then dropped.")
    send_concurrency: int = Field(4, ge=1, le=256, description="Sends in flight per channel in the serve worker.")
    send_max_attempts: int = Field(
        10, ge=1, le=1000, description="Worker attempts per message (each with the channel's retries) before failed.")
    send_retry_base: float = Field(5.0, gt=0, description="Seconds before the worker retries an errored message; "
                                                          "doubles per attempt.")
    send_retry_max: float = Field(600.0, gt=0, description="Longest wait between the worker's attempts, in seconds.")
    send_lease: float = Field(30.0, ge=0.5, description="Seconds a worker's claim on a message lasts unrenewed; "
                                                        "after a crash, its sends resume this much later.")
    webhook_retry_max: float = Field(300.0, gt=0, description="Longest wait between deliveries of an "
                                                              "unacknowledged webhook or bridge call, in seconds.")
    retention_days: float = Field(30.0, ge=0, description="Channel logs and delivered webhook/bridge calls older "
                                                          "than this are deleted hourly (0 keeps them).")
    message_retention_days: float = Field(
        0.0, ge=0, description="Finished messages (any status but queued and errored) older than this are deleted "
                               "hourly with their status history (0 keeps them).")
    webhooks: list[WebhookSettings] = Field(default_factory=list,
                                            description="`[[gateway.webhooks]]`: URLs receiving signed events.")

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        from ._database import validate_database

        return validate_database(value)

    @field_validator("api_token")
    @classmethod
    def _api_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty or blank (leave it out to keep the API off)")
        return value

    @field_validator("console_password_hash")
    @classmethod
    def _password_hash(cls, value: SecretStr | None) -> SecretStr | None:
        from ._secrets import check_password_hash

        if value is not None:
            check_password_hash(value.get_secret_value())
        return value

    def base_url(self) -> str:
        """The public base URL without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class ChannelSettings(BaseModel):
    """Keys every channel has; an adapter subclasses this with its own keys (secrets as `SecretStr`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    adapter: str = Field(description="Name of the adapter plugin that serves this channel.")
    address: str = Field("", description="The channel's own number, short code or sender id.")
    country: str | None = Field(None, description="ISO 3166 alpha-2 country used to parse local numbers.")
    tps: float | None = Field(None, gt=0, description="Maximum requests per second to the aggregator.")
    send_concurrency: int | None = Field(
        None, ge=1, le=1000, description="Sends in flight for this channel in the serve worker (default: [gateway] "
                                         "send_concurrency).")
    max_in_flight: int = Field(
        8, ge=1, le=1000, description="Most requests to this channel's aggregator at once; more wait their turn.")
    max_attempts: int = Field(3, ge=1, le=20, description="Attempts per request on retryable errors.")
    max_retry_wait: float = Field(30.0, ge=0, description="Longest wait between attempts, in seconds.")
    retry_on_timeout: bool = Field(
        False, description="Retry a read timeout after the request was sent (may duplicate an SMS).")
    timeout: float = Field(30.0, gt=0, description="Seconds to wait for the aggregator's answer.")

    @field_validator("country")
    @classmethod
    def _upper_country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) != 2 or not value.isalpha():
            raise ValueError("must be an ISO 3166 alpha-2 code such as 'RW' or 'BR'")
        return value.upper()


class AdapterClass(Protocol):
    """What the config needs of an adapter class: the model its channel's table is validated with.

    (The config validates; it never imports adapters or discovers plugins: its caller passes the classes in.)
    """

    settings_model: type[ChannelSettings]

    def __call__(self, channel: Channel, http: Any, public_url: str) -> Any:
        """The adapter instance serving `channel` (the gateway builds it)."""


@dataclass(frozen=True, slots=True)
class Channel:
    """A configured channel: its name, its validated settings and the adapter class serving it."""

    name: str
    settings: ChannelSettings
    adapter_cls: AdapterClass


@dataclass(slots=True)
class Config:
    """A loaded configuration: the gateway settings, the channels and the platform bridges by name."""

    gateway: GatewaySettings = field(default_factory=lambda: GatewaySettings())
    channels: dict[str, Channel] = field(default_factory=dict)
    path: Path | None = None
    bridges: dict[str, BridgeSettings] = field(default_factory=dict)
    twilio_api: TwilioApiSettings | None = None
    """`[twilio_api]`: Twilio's Messages API served in front of the channels, when present."""

    def channel(self, name: str) -> Channel:
        """The channel called `name`, or a ConfigError listing the known ones."""
        try:
            return self.channels[name]
        except KeyError:
            known = ", ".join(sorted(self.channels)) or "none configured"
            raise ConfigError(f"unknown channel {name!r} (known: {known})", file=self._file()) from None

    def _file(self) -> str | None:
        return str(self.path) if self.path else None

    def secrets(self) -> list[str]:
        """Every secret value in the config (API token, console password hash, webhook and bridge secrets, every
        channel's SecretStr fields), so each channel's logs mask them all: a secret sent to the wrong route is
        still a secret."""
        values: list[Any] = [self.gateway.api_token, self.gateway.console_password_hash,
                             *(h.secret for h in self.gateway.webhooks),
                             *(b.secret for b in self.bridges.values()),
                             self.twilio_api.auth_token if self.twilio_api else None]
        for channel in self.channels.values():
            values.extend(getattr(channel.settings, name) for name in type(channel.settings).model_fields)
        found = [v.get_secret_value() for v in values if isinstance(v, SecretStr)]
        from ._database import url_password

        password = url_password(self.gateway.database)  # a database URL's password, decoded and as written
        if password:
            found += [password, urllib.parse.quote(password, safe="")]
        return sorted({v for v in found if v})


class _Root(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMSGATE_", env_nested_delimiter="__", extra="ignore")

    gateway: dict[str, Any] = {}
    channels: dict[str, dict[str, Any]] = {}
    bridges: dict[str, dict[str, Any]] = {}
    twilio_api: dict[str, Any] | None = None

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return env_settings, init_settings  # the environment overrides the file


def default_config_path() -> Path:
    """`$SMSGATE_CONFIG` if set, else `./smsgate.toml`."""
    return Path(os.environ.get("SMSGATE_CONFIG") or DEFAULT_CONFIG)


def _loc(error: Any) -> str:
    # list items as TOML readers and `${NAME}` errors name them: `webhooks[0].secret`, not `webhooks.0.secret`
    out = ""
    for part in error["loc"]:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out or "(top level)"


def load_config(path: str | Path | None, adapters: Mapping[str, AdapterClass], *,
                required: bool | None = None, why_missing: str = "") -> Config:
    """Read and validate a config (`path`, else $SMSGATE_CONFIG, else ./smsgate.toml); `adapters` maps adapter
    names to classes (`smsgate.plugins.installed_adapters()` for the installed ones)."""
    explicit = path is not None or "SMSGATE_CONFIG" in os.environ
    file = Path(path) if path is not None else default_config_path()
    data: dict[str, Any] = {}
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"not valid TOML: {exc}", file=str(file)) from None
        except OSError as exc:
            raise ConfigError(f"cannot read: {exc.strerror}", file=str(file)) from None
    elif required or (required is None and explicit):
        raise ConfigError("no such file", file=str(file))
    config = config_from_dict(_expand_env(data, str(file)), adapters, file=str(file), why_missing=why_missing)
    config.path = file if file.exists() else None
    return config


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_env(value: Any, file: str, where: str = "") -> Any:
    """Replace every value written exactly `"${NAME}"` with environment variable NAME; `$${` is a literal `${`.

    Whole values only, so a password that merely contains `$` is never touched. This is how a secret inside a
    list (`[[gateway.webhooks]]`, which SMSGATE_* variables cannot address item by item) stays out of the file.
    """
    if isinstance(value, dict):
        return {k: _expand_env(v, file, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, file, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):
        if value.startswith("$${"):
            return value[1:]
        match = _ENV_REFERENCE.fullmatch(value)
        if match:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"refers to environment variable {name}, which is not set", file=file,
                                  field=where)
            return os.environ[name]
    return value


def config_from_dict(data: dict[str, Any], adapters: Mapping[str, AdapterClass], *, file: str = "<config>",
                     why_missing: str = "") -> Config:
    """Validate an already-parsed config (the TOML's tables as a dict), with `SMSGATE_*` overrides applied."""
    if "webhooks" in data:
        raise ConfigError("unknown table webhooks: webhooks go in [[gateway.webhooks]]", file=file)
    tables = ("gateway", "channels", "bridges", "twilio_api")
    unknown = set(data) - set(tables)
    if unknown:
        raise ConfigError(f"unknown table(s) {', '.join(sorted(unknown))}", file=file)
    try:
        root = _Root(**{k: v for k, v in data.items() if k in tables})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(first["msg"], file=file, field=_loc(first)) from None
    try:
        gateway = GatewaySettings(**root.gateway)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(first["msg"], file=file, field="gateway." + _loc(first)) from None
    channels = {name: _channel(name, raw, adapters, file, why_missing) for name, raw in root.channels.items()}
    bridges = {name: _bridge(name, raw, channels, file) for name, raw in root.bridges.items()}
    twilio_api = None if root.twilio_api is None else _twilio_api(root.twilio_api, channels, file)
    return Config(gateway=gateway, channels=channels, bridges=bridges, twilio_api=twilio_api)


def _twilio_api(raw: Any, channels: dict[str, Channel], file: str) -> TwilioApiSettings:
    if not isinstance(raw, dict):
        raise ConfigError("must be a table", file=file, field="twilio_api")
    try:
        settings = TwilioApiSettings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(first["msg"], file=file, field=f"twilio_api.{_loc(first)}") from None
    if settings.default_channel is not None and settings.default_channel not in channels:
        known = ", ".join(sorted(channels)) or "none configured"
        raise ConfigError(f"unknown channel {settings.default_channel!r} (known: {known})", file=file,
                          field="twilio_api.default_channel")
    return settings


def _bridge(name: str, raw: Any, channels: dict[str, Channel], file: str) -> BridgeSettings:
    where = f"bridges.{name}"
    if not isinstance(raw, dict):
        raise ConfigError("must be a table", file=file, field=where)
    try:
        bridge = BridgeSettings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(first["msg"], file=file, field=f"{where}.{_loc(first)}") from None
    if bridge.channel not in channels:
        known = ", ".join(sorted(channels)) or "none configured"
        raise ConfigError(f"unknown channel {bridge.channel!r} (known: {known})", file=file, field=f"{where}.channel")
    return bridge


def _channel(name: str, raw: Any, adapters: Mapping[str, AdapterClass], file: str, note: str = "") -> Channel:
    if not isinstance(raw, dict):
        raise ConfigError("must be a table", file=file, channel=name)
    adapter_name = raw.get("adapter")
    if not adapter_name:
        raise ConfigError("field required", file=file, channel=name, field="adapter")
    adapter_cls = adapters.get(str(adapter_name))
    if adapter_cls is None:
        known = ", ".join(sorted(adapters))
        # with SMSGATE_LOAD_PLUGINS set, "none installed" would send the user to pip for what is only switched off
        why = (f"({note})" if not known else f"(installed: {known}; {note})") if note else \
            f"(installed: {known or 'none installed'})"
        raise ConfigError(f"unknown adapter {adapter_name!r} {why}", file=file, channel=name, field="adapter")
    try:
        settings = adapter_cls.settings_model.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{_loc(e)}: {e['msg']}" for e in exc.errors()]
        first = exc.errors()[0]
        message = first["msg"] if len(lines) == 1 else first["msg"] + "; also " + "; ".join(lines[1:])
        raise ConfigError(message, file=file, channel=name, field=_loc(first)) from None
    return Channel(name=name, settings=settings, adapter_cls=adapter_cls)
