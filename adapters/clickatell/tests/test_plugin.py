"""The `clickatell` adapter is found through its entry point, and its keys are documented and checked."""

from __future__ import annotations

import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict
from smsgate.plugins import get_adapters
from smsgate_clickatell import ClickatellAdapter, ClickatellSettings

KEYS = {"address": "2020", "api_key": "k3y-123"}


def settings(**keys: object) -> ClickatellSettings:
    config = config_from_dict({"channels": {"c": {"adapter": "clickatell", **keys}}}, {"clickatell": ClickatellAdapter})
    return config.channels["c"].settings  # type: ignore[return-value]


def test_registered_through_the_entry_point() -> None:
    info = get_adapters()["clickatell"]
    assert info.adapter is ClickatellAdapter
    assert info.distribution == "smsgate-clickatell"


def test_every_key_is_described() -> None:
    for name, spec in ClickatellSettings.model_fields.items():
        assert spec.description, name


def test_routes() -> None:
    assert {a: r.methods for a, r in ClickatellAdapter.routes.items()} == {"receive": ("POST",),
                                                                           "status": ("POST",)}


def test_defaults_and_coercions() -> None:
    s = settings(**KEYS)
    assert (s.base_url, s.max_length) == ("https://platform.clickatell.com", 640)
    s = settings(**KEYS, base_url="https://eu.clickatell.example/", max_length="160")
    assert (s.base_url, s.max_length) == ("https://eu.clickatell.example", 160)


@pytest.mark.parametrize(("keys", "field", "message"), [
    ({"address": "2020"}, "api_key", "Field required"),
    ({**KEYS, "api_key": " "}, "api_key", "must not be empty"),
    ({**KEYS, "address": ""}, "address", "at least 1 character"),
    ({**KEYS, "base_url": "ftp://x"}, "base_url", "http:// or https://"),
    ({**KEYS, "max_length": 0}, "max_length", "greater than or equal to 1"),
    ({**KEYS, "apiKey": "k"}, "apiKey", "Extra inputs"),
])
def test_config_errors_name_the_key(keys: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(**keys)
    assert info.value.field == field and message in str(info.value), str(info.value)
