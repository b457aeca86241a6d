"""The `zenvia` adapter is found through its entry point, and its keys are documented and checked."""

from __future__ import annotations

import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict
from smsgate.plugins import get_adapters
from smsgate_zenvia import ZenviaAdapter, ZenviaSettings


def settings(**keys: object) -> ZenviaSettings:
    config = config_from_dict({"channels": {"c": {"adapter": "zenvia", **keys}}}, {"zenvia": ZenviaAdapter})
    return config.channels["c"].settings  # type: ignore[return-value]


def test_registered_through_the_entry_point() -> None:
    info = get_adapters()["zenvia"]
    assert info.adapter is ZenviaAdapter
    assert info.distribution == "smsgate-zenvia"


def test_every_key_is_described() -> None:
    for name, spec in ZenviaSettings.model_fields.items():
        assert spec.description, name


def test_routes() -> None:
    assert {a: r.methods for a, r in ZenviaAdapter.routes.items()} == {"receive": ("POST",), "status": ("POST",)}


def test_defaults_and_coercions() -> None:
    s = settings(api_key="k3y")
    assert (s.base_url, s.max_length, s.webhook_secret) == ("https://api.zenvia.com", 1152, None)
    s = settings(api_key="k3y", base_url="https://zenvia.example/", max_length="160", webhook_secret="w")
    assert (s.base_url, s.max_length) == ("https://zenvia.example", 160)


@pytest.mark.parametrize(("keys", "field", "message"), [
    ({}, "api_key", "Field required"),
    ({"api_key": " "}, "api_key", "must not be empty"),
    ({"api_key": "k", "base_url": "ftp://x"}, "base_url", "http:// or https://"),
    ({"api_key": "k", "max_length": 0}, "max_length", "greater than or equal to 1"),
    ({"api_key": "k", "webhook_secret": " "}, "webhook_secret", "must not be empty"),
    ({"api_key": "k", "channel": "whatsapp"}, "channel", "Extra inputs"),
])
def test_config_errors_name_the_key(keys: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(**keys)
    assert info.value.field == field and message in str(info.value), str(info.value)
