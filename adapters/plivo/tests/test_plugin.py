"""The `plivo` adapter is found through its entry point, and its keys are documented and checked."""

from __future__ import annotations

import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict
from smsgate.plugins import get_adapters
from smsgate_plivo import PlivoAdapter, PlivoSettings

KEYS = {"address": "2020", "auth_id": "MA123", "auth_token": "t0ken-123"}


def settings(**keys: object) -> PlivoSettings:
    config = config_from_dict({"channels": {"c": {"adapter": "plivo", **keys}}}, {"plivo": PlivoAdapter})
    return config.channels["c"].settings  # type: ignore[return-value]


def test_registered_through_the_entry_point() -> None:
    info = get_adapters()["plivo"]
    assert info.adapter is PlivoAdapter
    assert info.distribution == "smsgate-plivo"


def test_every_key_is_described() -> None:
    for name, spec in PlivoSettings.model_fields.items():
        assert spec.description, name


def test_routes() -> None:
    assert {a: r.methods for a, r in PlivoAdapter.routes.items()} == {"receive": ("POST",), "status": ("POST",)}


def test_defaults_and_coercions() -> None:
    s = settings(**KEYS)
    assert (s.base_url, s.max_length, s.app_id, s.validate_signatures) == ("https://api.plivo.com", 1600, "", True)
    s = settings(**KEYS, app_id="app-1", base_url="https://eu.plivo.example/", max_length="160")
    assert (s.base_url, s.max_length, s.app_id) == ("https://eu.plivo.example", 160, "app-1")


@pytest.mark.parametrize(("keys", "field", "message"), [
    ({"address": "2020", "auth_id": "MA123"}, "auth_token", "Field required"),
    ({**KEYS, "auth_token": " "}, "auth_token", "must not be empty"),
    ({**KEYS, "auth_id": ""}, "auth_id", "at least 1 character"),
    ({**KEYS, "address": ""}, "address", "at least 1 character"),
    ({**KEYS, "base_url": "ftp://x"}, "base_url", "http:// or https://"),
    ({**KEYS, "max_length": 0}, "max_length", "greater than or equal to 1"),
    ({**KEYS, "PLIVO_AUTH_ID": "k"}, "PLIVO_AUTH_ID", "Extra inputs"),
])
def test_config_errors_name_the_key(keys: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(**keys)
    assert info.value.field == field and message in str(info.value), str(info.value)
