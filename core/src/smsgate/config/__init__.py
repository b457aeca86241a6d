"""Configuration: the TOML file and `SMSGATE_*` overrides, validated into `Config`, and the values it holds.

    _settings   Config, GatewaySettings, ChannelSettings, Channel, WebhookSettings, BridgeSettings,
                RouteSettings, TenantSettings, loading
    _fields     HttpUrl, Secret and the comparisons of secrets and ids
    _secrets    the api_token check, the console password's scrypt hash, tenants' token hashes
    _database   what a `database` value names (a SQLite path or a PostgreSQL URL)

Nothing here discovers plugins: `load_config` validates channels with the adapter classes its caller passes.
"""

from ._database import describe, is_postgres, sqlite_path, url_password, validate_database
from ._fields import HttpUrl, Secret, http_url, parse_uuid, same_secret
from ._secrets import (
    bearer_token,
    check_password_hash,
    check_token_hash,
    hash_password,
    hash_token,
    token_matches,
    verify_password,
)
from ._settings import (
    AdapterClass,
    BridgeSettings,
    Channel,
    ChannelSettings,
    Config,
    GatewaySettings,
    RouteSettings,
    TenantSettings,
    WebhookSettings,
    config_from_dict,
    default_config_path,
    load_config,
)

__all__ = [
    "AdapterClass",
    "BridgeSettings",
    "Channel",
    "ChannelSettings",
    "Config",
    "GatewaySettings",
    "HttpUrl",
    "RouteSettings",
    "Secret",
    "TenantSettings",
    "WebhookSettings",
    "bearer_token",
    "check_password_hash",
    "check_token_hash",
    "config_from_dict",
    "default_config_path",
    "describe",
    "hash_password",
    "hash_token",
    "http_url",
    "is_postgres",
    "load_config",
    "parse_uuid",
    "same_secret",
    "sqlite_path",
    "token_matches",
    "url_password",
    "validate_database",
    "verify_password",
]
