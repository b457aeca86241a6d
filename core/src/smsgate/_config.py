"""Configuration: a TOML file plus `SMSGATE_*` environment overrides, validated per adapter."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ._errors import ConfigError

if TYPE_CHECKING:
    from ._adapter import Adapter

__all__ = [
    "Channel",
    "ChannelSettings",
    "Config",
    "config_from_dict",
    "GatewaySettings",
    "default_config_path",
    "load_config",
]

DEFAULT_CONFIG = "smsgate.toml"


class GatewaySettings(BaseModel):
    """The `[gateway]` table: where the gateway listens, how aggregators reach it, where it stores."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Interface `smsgate serve` listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port `smsgate serve` listens on.")
    public_url: str = Field("", description="Base URL aggregators call back on; default http://host:port.")
    database: str = Field("smsgate.sqlite3", description="SQLite file holding messages, statuses and logs.")
    synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL", description="SQLite fsync policy: FULL survives power loss, NORMAL only process crashes.")
    api_token: SecretStr | None = Field(None, description="Bearer token required by the outbound HTTP API.")
    trust_proxy: bool = Field(False, description="Honour X-Forwarded-Proto/Host when rebuilding request URLs.")
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="Inbound bodies larger than this get a 413.")

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


@dataclass(frozen=True, slots=True)
class Channel:
    """A configured channel: its name, its validated settings and the adapter class serving it."""

    name: str
    settings: ChannelSettings
    adapter_cls: type[Adapter]


@dataclass(slots=True)
class Config:
    """A loaded configuration: the gateway settings and the channels by name."""

    gateway: GatewaySettings = field(default_factory=lambda: GatewaySettings())
    channels: dict[str, Channel] = field(default_factory=dict)
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def channel(self, name: str) -> Channel:
        """The channel called `name`, or a ConfigError listing the known ones."""
        try:
            return self.channels[name]
        except KeyError:
            known = ", ".join(sorted(self.channels)) or "none configured"
            raise ConfigError(f"unknown channel {name!r} (known: {known})", file=self._file()) from None

    def _file(self) -> str | None:
        return str(self.path) if self.path else None


class _Root(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMSGATE_", env_nested_delimiter="__", extra="ignore")

    gateway: dict[str, Any] = {}
    channels: dict[str, dict[str, Any]] = {}

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
    return ".".join(str(p) for p in error["loc"]) or "(top level)"


def load_config(path: str | Path | None = None, adapters: dict[str, type[Adapter]] | None = None,
                *, required: bool | None = None) -> Config:
    """Read and validate a config; `adapters` maps adapter names to classes (default: the loaded plugins)."""
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
    config = config_from_dict(data, adapters, file=str(file))
    config.path = file if file.exists() else None
    return config


def config_from_dict(data: dict[str, Any], adapters: dict[str, type[Adapter]] | None = None, *,
                     file: str = "<config>") -> Config:
    """Validate an already-parsed config (the TOML's tables as a dict), with `SMSGATE_*` overrides applied."""
    unknown = set(data) - {"gateway", "channels", "bridges", "webhooks"}
    if unknown:
        raise ConfigError(f"unknown table(s) {', '.join(sorted(unknown))}", file=file)
    try:
        root = _Root(**{k: v for k, v in data.items() if k in ("gateway", "channels")})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(first["msg"], file=file, field=_loc(first)) from None
    try:
        gateway = GatewaySettings(**root.gateway)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(first["msg"], file=file, field="gateway." + _loc(first)) from None
    if adapters is None:
        from .plugins import get_adapters

        adapters = {name: info.adapter for name, info in get_adapters().items()}
    channels = {name: _channel(name, raw, adapters, file) for name, raw in root.channels.items()}
    return Config(gateway=gateway, channels=channels, extra={k: data[k] for k in ("bridges", "webhooks")
                                                             if k in data})


def _channel(name: str, raw: Any, adapters: dict[str, type[Adapter]], file: str) -> Channel:
    if not isinstance(raw, dict):
        raise ConfigError("must be a table", file=file, channel=name)
    adapter_name = raw.get("adapter")
    if not adapter_name:
        raise ConfigError("field required", file=file, channel=name, field="adapter")
    adapter_cls = adapters.get(str(adapter_name))
    if adapter_cls is None:
        known = ", ".join(sorted(adapters)) or "none installed"
        raise ConfigError(f"unknown adapter {adapter_name!r} (installed: {known})", file=file, channel=name,
                          field="adapter")
    try:
        settings = adapter_cls.settings_model.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{_loc(e)}: {e['msg']}" for e in exc.errors()]
        first = exc.errors()[0]
        message = first["msg"] if len(lines) == 1 else first["msg"] + "; also " + "; ".join(lines[1:])
        raise ConfigError(message, file=file, channel=name, field=_loc(first)) from None
    return Channel(name=name, settings=settings, adapter_cls=adapter_cls)
