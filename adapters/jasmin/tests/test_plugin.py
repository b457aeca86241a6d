"""The `jasmin` adapter is found through its entry point, and its keys are documented and checked."""

from __future__ import annotations

import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict
from smsgate.plugins import get_adapters
from smsgate_jasmin import JasminAdapter, JasminSettings


def settings(**keys: object) -> JasminSettings:
    config = config_from_dict({"channels": {"c": {"adapter": "jasmin", **keys}}}, {"jasmin": JasminAdapter})
    return config.channels["c"].settings  # type: ignore[return-value]


def test_registered_through_the_entry_point() -> None:
    info = get_adapters()["jasmin"]
    assert info.adapter is JasminAdapter
    assert info.distribution == "smsgate-jasmin"


def test_every_key_is_described() -> None:
    for name, spec in JasminSettings.model_fields.items():
        assert spec.description, name


def test_routes() -> None:
    assert {a: r.methods for a, r in JasminAdapter.routes.items()} == {"receive": ("POST",), "status": ("POST",)}


def test_defaults_and_coercions() -> None:
    s = settings(api_key="k3y", base_url="https://eu.jasmin.example/", max_length="70")
    assert (s.base_url, s.max_length) == ("https://eu.jasmin.example", 70)


@pytest.mark.parametrize(("keys", "field", "message"), [
    ({}, "api_key", "Field required"),
    ({"api_key": " "}, "api_key", "must not be empty"),
    ({"api_key": "k", "base_url": "ftp://x"}, "base_url", "http:// or https://"),
    ({"api_key": "k", "max_length": 0}, "max_length", "greater than or equal to 1"),
    ({"api_key": "k", "apikey": "k"}, "apikey", "Extra inputs"),
])
def test_config_errors_name_the_key(keys: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(**keys)
    assert info.value.field == field and message in str(info.value), str(info.value)
