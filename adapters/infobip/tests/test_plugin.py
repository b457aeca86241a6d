"""The `infobip` adapter is found through its entry point, and its keys are documented and checked."""

from __future__ import annotations

import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict
from smsgate.plugins import get_adapters
from smsgate_infobip import InfobipAdapter, InfobipSettings


def settings(**keys: object) -> InfobipSettings:
    config = config_from_dict({"channels": {"c": {"adapter": "infobip", **keys}}}, {"infobip": InfobipAdapter})
    return config.channels["c"].settings  # type: ignore[return-value]


def test_registered_through_the_entry_point() -> None:
    info = get_adapters()["infobip"]
    assert info.adapter is InfobipAdapter
    assert info.distribution == "smsgate-infobip"


def test_every_key_is_described() -> None:
    for name, spec in InfobipSettings.model_fields.items():
        assert spec.description, name


def test_routes() -> None:
    assert {a: r.methods for a, r in InfobipAdapter.routes.items()} == {"receive": ("POST",), "delivered": ("POST",)}


def test_defaults_and_coercions() -> None:
    s = settings(api_key="k3y")
    assert (s.base_url, s.max_length, s.transliteration, s.username, s.password) == (
        "https://api.infobip.com", 1600, "", "", None)
    s = settings(username="u", password="p", base_url="https://xyz.api.infobip.com/", transliteration=" non_unicode ",
                 max_length="500")
    assert (s.base_url, s.transliteration, s.max_length) == ("https://xyz.api.infobip.com", "NON_UNICODE", 500)


@pytest.mark.parametrize(("keys", "field", "message"), [
    ({}, "(top level)", "needs api_key, or username and password"),
    ({"username": "u"}, "(top level)", "needs api_key, or username and password"),
    ({"api_key": "k", "password": "p"}, "(top level)", "username and password must be set together"),
    ({"api_key": " "}, "api_key", "must not be empty"),
    ({"api_key": "k", "transliteration": "tr-1"}, "transliteration", "one of Infobip's names"),
    ({"api_key": "k", "base_url": "api.infobip.com"}, "base_url", "http:// or https://"),
    ({"api_key": "k", "max_length": 0}, "max_length", "greater than or equal to 1"),
    ({"api_key": "k", "apikey": "k"}, "apikey", "Extra inputs"),
])
def test_config_errors_name_the_key(keys: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(**keys)
    assert info.value.field == field and message in str(info.value), str(info.value)
