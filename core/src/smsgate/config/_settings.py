"""Configuration: a TOML file plus `SMSGATE_*` environment overrides, validated per adapter."""

from __future__ import annotations

import base64
import binascii
import difflib
import os
import re
import tomllib
import urllib.parse
from collections.abc import Collection, Mapping
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
    "RouteSettings",
    "TenantSettings",
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
    statuses: list[Literal["queued", "errored", "wired", "sent", "delivered", "failed", "read"]] | None = Field(
        None, description="Statuses whose `message.status_changed` events are sent (default: all), e.g. "
                          "[\"delivered\", \"failed\"] for one callback per message.")
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
    """A `[bridges.<name>]` table: a messaging platform talking to smsgate through one channel, or through the
    routes among several (`channels`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: Literal["rapidpro"] = Field(description="The platform's protocol; `rapidpro` is its External API.")
    channel: str | None = Field(None, description="The smsgate channel that carries the platform's messages.")
    channels: list[str] | None = Field(
        None, min_length=1, description="Instead of `channel`: the platform's sends are routed by number ([[routes]]) "
                                        "among these channels, and what they receive goes to the platform.")
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
    """The `[twilio_api]` table (and a tenant's `[tenants.<name>.twilio_api]`): smsgate serves Twilio's Messages
    API (2010-04-01) for an account, so Twilio's SDKs send through smsgate's channels unchanged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_sid: str = Field(description="The account SID clients put in the URL and as the Basic-auth user: "
                                         "`AC` and 32 hex digits.")
    auth_token: SecretStr = Field(description="The Basic-auth password; also signs status callbacks and incoming "
                                              "webhooks (X-Twilio-Signature). At least 16 characters.")
    incoming_url: str | None = Field(None, description="Where messages received on the channels are POSTed as "
                                                       "Twilio's incoming-message webhook; TwiML `<Message>` "
                                                       "replies go back through the same channel.")
    default_channel: str | None = Field(None, description="The channel a message goes out on when its From is no "
                                                          "channel's address and no route takes its number "
                                                          "(default: the only channel, if there is one).")

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


_PREFIX = re.compile(r"\+[0-9]{1,15}")
_TENANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class RouteSettings(BaseModel):
    """One `[[routes]]` entry: which numbers it takes and the channels that send them, tried in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    to: list[str] | None = Field(None, min_length=1, description="E.164 prefixes the number must start with, such "
                                                                 "as \"+25078\" (omitted: any number).")
    country: list[str] | None = Field(None, min_length=1, description="ISO 3166 alpha-2 countries the number must "
                                                                      "belong to, such as \"RW\" (omitted: any).")
    channels: list[str] = Field(min_length=1, description="The channels that send these numbers: the first (or the "
                                                          "strategy's pick) first, the others when it fails.")
    strategy: Literal["failover", "round_robin", "weighted"] = Field(
        "failover", description="failover: the first channel whose link is up; round_robin: each in turn; weighted: "
                                "in proportion to `weights`. Each fails over to the others.")
    weights: list[int] | None = Field(None, description="With `strategy = \"weighted\"`: one positive weight per "
                                                        "channel, in the same order.")

    @field_validator("to")
    @classmethod
    def _prefixes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        out = [v.strip().replace(" ", "") for v in value]
        for prefix in out:
            if not _PREFIX.fullmatch(prefix):
                raise ValueError(f"{prefix!r} is not an E.164 prefix: '+' and digits, such as '+25078'")
        return out

    @field_validator("country")
    @classmethod
    def _countries(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        import phonenumbers

        out = [v.strip().upper() for v in value]
        for code in out:
            if code not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f"{code!r} is not an ISO 3166 alpha-2 country with phone numbers, such as 'RW'")
        return out

    @field_validator("channels")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("names a channel twice")
        return value

    @field_validator("weights")
    @classmethod
    def _weights(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(w < 1 for w in value):
            raise ValueError("every weight must be a positive integer")
        return value


class TenantSettings(BaseModel):
    """A `[tenants.<name>]` table: a customer with its own API token, confined to its own channels."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr | None = Field(None, description="The tenant's bearer token for /api/v1 and its console "
                                                      "sign-in (at least 16 characters).")
    token_hash: SecretStr | None = Field(None, description="Instead of `token`: its hash, 'sha256:' and the hex "
                                                           "SHA-256 of the token.")
    channels: list[str] = Field(min_length=1, description="The only channels it may send on, see and be routed "
                                                          "to.")
    tps: float | None = Field(None, gt=0, description="Most messages per second it may queue, across every "
                                                      "instance (more: 429 with Retry-After).")
    daily_limit: int | None = Field(None, ge=1, description="Most messages it may queue per UTC day, across every "
                                                            "instance (more: 429 with Retry-After).")
    webhooks: list[WebhookSettings] = Field(default_factory=list, description="`[[tenants.<name>.webhooks]]`: URLs "
                                                                              "receiving the signed events of its "
                                                                              "channels.")
    twilio_api: TwilioApiSettings | None = Field(None, description="`[tenants.<name>.twilio_api]`: its own Twilio "
                                                                   "account in front of its channels (the keys of "
                                                                   "`[twilio_api]`).")

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 16:
            raise ValueError("must be at least 16 characters (it guards sending SMS on your account)")
        return value

    @field_validator("token_hash")
    @classmethod
    def _token_hash(cls, value: SecretStr | None) -> SecretStr | None:
        from ._secrets import check_token_hash

        return None if value is None else SecretStr(check_token_hash(value.get_secret_value()))

    @field_validator("channels")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("names a channel twice")
        return value

    def digest(self) -> str:
        """The token's `sha256:` hash, from `token` or as configured in `token_hash`."""
        from ._secrets import hash_token

        if self.token_hash is not None:
            return self.token_hash.get_secret_value()
        assert self.token is not None
        return hash_token(self.token.get_secret_value())


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
    send_log_sample: float = Field(
        1.0, ge=0, le=1, description="Share of successful sends whose channel log is stored (1: every one, 0: none); "
                                     "a send with an error is always stored in full.")
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
    health_interval: float = Field(
        30.0, ge=0, description="Seconds between probes of the aggregator's link (`smsgate status` shows it up or "
                                "down); 0 turns probing off, leaving sends as the only evidence.")

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
    unavailable: dict[str, str] = field(default_factory=dict)
    """Channels left out because their adapter is not installed (name → adapter), when the loader was asked to."""
    routes: list[RouteSettings] = field(default_factory=list)
    """`[[routes]]`, in the order they are tried."""
    tenants: dict[str, TenantSettings] = field(default_factory=dict)
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
        for tenant in self.tenants.values():
            values += [tenant.token, tenant.token_hash, *(h.secret for h in tenant.webhooks),
                       tenant.twilio_api.auth_token if tenant.twilio_api else None]
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
    routes: list[dict[str, Any]] = []
    tenants: dict[str, dict[str, Any]] = {}
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
                required: bool | None = None, why_missing: str = "", skip_missing_adapters: bool = False,
                check_driver: bool = False) -> Config:
    """Read and validate a config (`path`, else $SMSGATE_CONFIG, else ./smsgate.toml); `adapters` maps adapter
    names to classes (`smsgate.plugins.installed_adapters()` for the installed ones).

    Every mistake is found in one pass: the ConfigError raised names the first and carries them all in
    `problems`. `skip_missing_adapters` leaves out, instead of refusing, a channel whose adapter is not
    installed (listed in `Config.unavailable`): enough for commands that only read the store. `check_driver`
    also makes a database whose driver is not installed a mistake (`smsgate check`)."""
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
    problems: list[ConfigError] = []
    expanded = _expand_env(data, str(file), problems)
    try:
        config = config_from_dict(expanded, adapters, file=str(file), why_missing=why_missing,
                                  skip_missing_adapters=skip_missing_adapters, check_driver=check_driver)
    except ConfigError as exc:
        # a value left out for want of its variable is reported once, not also as a missing field
        unset = {p.key for p in problems}
        raise ConfigError.several(problems + [p for p in exc.problems if p.key not in unset]) from None
    if problems:
        raise ConfigError.several(problems)
    config.path = file if file.exists() else None
    return config


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_UNSET = object()


def _expand_env(value: Any, file: str, problems: list[ConfigError], where: str = "") -> Any:
    """Replace every value written exactly `"${NAME}"` with environment variable NAME; `$${` is a literal `${`.

    Whole values only, so a password that merely contains `$` is never touched. This is how a secret inside a
    list (`[[gateway.webhooks]]`, which SMSGATE_* variables cannot address item by item) stays out of the file.
    A variable that is not set is a problem appended to `problems` (the value is then left out).
    """
    if isinstance(value, dict):
        expanded = {k: _expand_env(v, file, problems, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        return {k: v for k, v in expanded.items() if v is not _UNSET}
    if isinstance(value, list):
        return [v for i, item in enumerate(value) if (v := _expand_env(item, file, problems, f"{where}[{i}]"))
                is not _UNSET]
    if isinstance(value, str):
        if value.startswith("$${"):
            return value[1:]
        match = _ENV_REFERENCE.fullmatch(value)
        if match:
            name = match.group(1)
            if name not in os.environ:
                problems.append(ConfigError(f"refers to environment variable {name}, which is not set", file=file,
                                            field=where))
                return _UNSET
            return os.environ[name]
    return value


def _pydantic_problems(exc: ValidationError, file: str, prefix: str = "", channel: str | None = None
                       ) -> list[ConfigError]:
    """One ConfigError per mistake pydantic found, each naming its own field."""
    return [ConfigError(e["msg"], file=file, channel=channel, field=prefix + _loc(e)) for e in exc.errors()]


def config_from_dict(data: dict[str, Any], adapters: Mapping[str, AdapterClass], *, file: str = "<config>",
                     why_missing: str = "", skip_missing_adapters: bool = False, check_driver: bool = False
                     ) -> Config:
    """Validate an already-parsed config (the TOML's tables as a dict), with `SMSGATE_*` overrides applied.

    Every table is validated even after a mistake, so the ConfigError raised carries every one (`problems`);
    `skip_missing_adapters` and `check_driver` as for `load_config`."""
    problems: list[ConfigError] = []
    if "webhooks" in data:
        problems.append(ConfigError("unknown table webhooks: webhooks go in [[gateway.webhooks]]", file=file))
    tables = ("gateway", "channels", "bridges", "routes", "tenants", "twilio_api")
    unknown = set(data) - {*tables, "webhooks"}
    if unknown:
        problems.append(ConfigError(f"unknown table(s) {', '.join(sorted(unknown))}", file=file))
    try:
        root = _Root(**{k: v for k, v in data.items() if k in tables})
    except ValidationError as exc:
        raise ConfigError.several(problems + _pydantic_problems(exc, file)) from None
    gateway = GatewaySettings()
    try:
        gateway = GatewaySettings(**root.gateway)
    except ValidationError as exc:
        problems += _pydantic_problems(exc, file, "gateway.")
    database = root.gateway.get("database", gateway.database)
    if check_driver and isinstance(database, str) and "gateway.database" not in {p.key for p in problems}:
        from ._database import missing_driver

        why = missing_driver(database)
        if why:
            problems.append(ConfigError(why, file=file, field="gateway.database"))
    channels: dict[str, Channel] = {}
    unavailable: dict[str, str] = {}
    for name, raw in root.channels.items():
        try:
            channels[name] = _channel(name, raw, adapters, file, why_missing)
        except _MissingAdapter as exc:
            if skip_missing_adapters:
                unavailable[name] = exc.adapter
            else:
                problems.append(exc.error)
        except ConfigError as exc:
            problems += exc.problems
    # a channel that is configured but broken has its own line already: only a name no table has is wrong later
    names = set(root.channels)
    routes: list[RouteSettings] = []
    for i, raw in enumerate(root.routes):
        try:
            routes.append(_route(i, raw, names, file))
        except ConfigError as exc:
            problems += exc.problems
    tenants: dict[str, TenantSettings] = {}
    for name, raw in root.tenants.items():
        try:
            tenants[name] = _tenant(name, raw, names, file)
        except ConfigError as exc:
            problems += exc.problems
    try:
        _distinct_tokens(gateway, tenants, file)
    except ConfigError as exc:
        problems += exc.problems
    bridges: dict[str, BridgeSettings] = {}
    for name, raw in root.bridges.items():
        try:
            bridges[name] = _bridge(name, raw, names, root.routes, file)
        except ConfigError as exc:
            problems += exc.problems
    twilio_api = None
    if root.twilio_api is not None:
        try:
            twilio_api = _twilio_api(root.twilio_api, names, file)
        except ConfigError as exc:
            problems += exc.problems
    try:
        _distinct_accounts(twilio_api, tenants, file)
    except ConfigError as exc:
        problems += exc.problems
    if problems:
        raise ConfigError.several(problems)
    return Config(gateway=gateway, channels=channels, bridges=bridges, routes=routes, tenants=tenants,
                  unavailable=unavailable, twilio_api=twilio_api)


def _twilio_api(raw: Any, channels: Collection[str], file: str, where: str = "twilio_api") -> TwilioApiSettings:
    settings: TwilioApiSettings = _validated(TwilioApiSettings, raw, file, where)
    if settings.default_channel is not None:
        _known(channels, settings.default_channel, file, f"{where}.default_channel")
    return settings


def _distinct_accounts(operator: TwilioApiSettings | None, tenants: dict[str, TenantSettings], file: str) -> None:
    """Every Twilio account SID names one account: a tenant's may be neither the operator's nor another's."""
    seen: dict[str, str] = {operator.account_sid.lower(): "[twilio_api]"} if operator else {}
    for name, tenant in tenants.items():
        if tenant.twilio_api is None:
            continue
        sid = tenant.twilio_api.account_sid.lower()
        if sid in seen:
            raise ConfigError(f"the same account_sid as {seen[sid]}: each account needs its own", file=file,
                              field=f"tenants.{name}.twilio_api.account_sid")
        seen[sid] = f"tenant {name}"


def _known(channels: Collection[str], name: str, file: str, where: str) -> None:
    if name not in channels:
        known = ", ".join(sorted(channels)) or "none configured"
        raise ConfigError(f"unknown channel {name!r} (known: {known})", file=file, field=where)


def _validated(model: type[Any], raw: Any, file: str, where: str) -> Any:
    """`raw` validated as `model`; a ConfigError carrying every mistake pydantic found, each with its field."""
    if not isinstance(raw, dict):
        raise ConfigError("must be a table", file=file, field=where)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError.several(_pydantic_problems(exc, file, f"{where}.")) from None


def _route(index: int, raw: Any, channels: Collection[str], file: str) -> RouteSettings:
    where = f"routes[{index}]"
    route: RouteSettings = _validated(RouteSettings, raw, file, where)
    for i, name in enumerate(route.channels):
        _known(channels, name, file, f"{where}.channels[{i}]")
    if route.strategy == "weighted" and route.weights is None:
        raise ConfigError('strategy "weighted" needs weights, one per channel', file=file, field=f"{where}.weights")
    if route.weights is not None and route.strategy != "weighted":
        raise ConfigError(f'weights apply only to strategy = "weighted" (this route\'s is {route.strategy!r})',
                          file=file, field=f"{where}.weights")
    if route.weights is not None and len(route.weights) != len(route.channels):
        raise ConfigError(f"{len(route.weights)} weight(s) for {len(route.channels)} channel(s): give one per "
                          "channel", file=file, field=f"{where}.weights")
    return route


def _tenant(name: str, raw: Any, channels: Collection[str], file: str) -> TenantSettings:
    where = f"tenants.{name}"
    if not _TENANT_NAME.fullmatch(name):
        raise ConfigError("a tenant's name is letters, digits, '_', '.' and '-' (at most 64)", file=file, field=where)
    tenant: TenantSettings = _validated(TenantSettings, raw, file, where)
    if (tenant.token is None) == (tenant.token_hash is None):
        raise ConfigError("give exactly one of token and token_hash", file=file, field=f"{where}.token")
    for i, channel in enumerate(tenant.channels):
        _known(channels, channel, file, f"{where}.channels[{i}]")
    front = tenant.twilio_api
    if front is not None and front.default_channel is not None:
        _known(tenant.channels, front.default_channel, file, f"{where}.twilio_api.default_channel")
    return tenant


def _distinct_tokens(gateway: GatewaySettings, tenants: dict[str, TenantSettings], file: str) -> None:
    """Every bearer token names one caller: a tenant's may be neither the operator's nor another tenant's."""
    from ._secrets import hash_token

    seen: dict[str, str] = {}
    if gateway.api_token is not None:
        seen[hash_token(gateway.api_token.get_secret_value())] = "[gateway] api_token"
    for name, tenant in tenants.items():
        digest = tenant.digest()
        if digest in seen:
            field = "token" if tenant.token is not None else "token_hash"
            raise ConfigError(f"the same token as {seen[digest]}: each caller needs its own", file=file,
                              field=f"tenants.{name}.{field}")
        seen[digest] = f"tenant {name}"


def _bridge(name: str, raw: Any, channels: Collection[str], routes: list[Any], file: str) -> BridgeSettings:
    where = f"bridges.{name}"
    bridge: BridgeSettings = _validated(BridgeSettings, raw, file, where)
    if (bridge.channel is None) == (bridge.channels is None):
        raise ConfigError("give exactly one of channel (one channel) and channels (routed among several)",
                          file=file, field=f"{where}.channel")
    if bridge.channel is not None:
        _known(channels, bridge.channel, file, f"{where}.channel")
    for i, channel in enumerate(bridge.channels or []):
        _known(channels, channel, file, f"{where}.channels[{i}]")
    if bridge.channels is not None and not routes:
        raise ConfigError("routes its sends by number, but the config has no [[routes]]", file=file,
                          field=f"{where}.channels")
    return bridge


class _MissingAdapter(Exception):
    """A channel names an adapter that is not installed (an error, or left out for read-only commands)."""

    def __init__(self, adapter: str, error: ConfigError) -> None:
        super().__init__(str(error))
        self.adapter, self.error = adapter, error


def _channel(name: str, raw: Any, adapters: Mapping[str, AdapterClass], file: str, note: str = "") -> Channel:
    if not isinstance(raw, dict):
        raise ConfigError("must be a table", file=file, channel=name)
    adapter_name = raw.get("adapter")
    if not adapter_name:
        raise ConfigError("field required", file=file, channel=name, field="adapter")
    adapter_cls = adapters.get(str(adapter_name))
    if adapter_cls is None:
        known = ", ".join(sorted(adapters))
        # thirteen names are a lot to scan for one typo
        close = difflib.get_close_matches(str(adapter_name), list(adapters), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        # with SMSGATE_LOAD_PLUGINS set, "none installed" would send the user to pip for what is only switched off
        why = (f"({note})" if not known else f"({hint}installed: {known}; {note})") if note else \
            f"({hint}installed: {known or 'none installed'})"
        raise _MissingAdapter(str(adapter_name), ConfigError(f"unknown adapter {adapter_name!r} {why}", file=file,
                                                             channel=name, field="adapter"))
    try:
        settings = adapter_cls.settings_model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError.several(_pydantic_problems(exc, file, channel=name)) from None
    return Channel(name=name, settings=settings, adapter_cls=adapter_cls)
