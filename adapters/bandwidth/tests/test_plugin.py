"""The `bandwidth` adapter is found through its entry point, and its keys are documented and checked."""

from __future__ import annotations

import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict
from smsgate.plugins import get_adapters
from smsgate_bandwidth import BandwidthAdapter, BandwidthSettings

KEYS = {"username": "u", "password": "p", "account_id": "a", "messaging_application_id": "app"}


def settings(**keys: object) -> BandwidthSettings:
    config = config_from_dict({"channels": {"c": {"adapter": "bandwidth", **keys}}}, {"bandwidth": BandwidthAdapter})
    return config.channels["c"].settings  # type: ignore[return-value]


def test_registered_through_the_entry_point() -> None:
    info = get_adapters()["bandwidth"]
    assert info.adapter is BandwidthAdapter
    assert info.distribution == "smsgate-bandwidth"


def test_every_key_is_described() -> None:
    for name, spec in BandwidthSettings.model_fields.items():
        assert spec.description, name


def test_routes() -> None:
    assert {a: r.methods for a, r in BandwidthAdapter.routes.items()} == {"receive": ("POST",), "status": ("POST",)}


def test_defaults_and_coercions() -> None:
    s = settings(**KEYS)
    assert (s.base_url, s.max_length, s.callback_username) == ("https://messaging.bandwidth.com", 2048, None)
    s = settings(**KEYS, base_url="https://eu.bandwidth.example/", max_length="160")
    assert (s.base_url, s.max_length) == ("https://eu.bandwidth.example", 160)
    old = settings(**{k: v for k, v in KEYS.items() if k != "messaging_application_id"}, application_id="old")
    assert old.messaging_application_id == "old"


@pytest.mark.parametrize(("keys", "field", "message"), [
    ({k: v for k, v in KEYS.items() if k != "username"}, "username", "Field required"),
    ({**KEYS, "password": " "}, "password", "must not be empty"),
    ({k: v for k, v in KEYS.items() if k != "account_id"}, "account_id", "Field required"),
    ({k: v for k, v in KEYS.items() if k != "messaging_application_id"}, "messaging_application_id",
     "Field required"),
    ({**KEYS, "base_url": "ftp://x"}, "base_url", "http:// or https://"),
    ({**KEYS, "max_length": 0}, "max_length", "greater than or equal to 1"),
    ({**KEYS, "callback_username": "cb"}, None, "must be set together"),
    ({**KEYS, "callback_password": "pw"}, None, "must be set together"),
    ({**KEYS, "api_key": "k"}, "api_key", "Extra inputs"),
])
def test_config_errors_name_the_key(keys: dict[str, object], field: str | None, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(**keys)
    assert message in str(info.value), str(info.value)
    if field is not None:
        assert info.value.field == field, str(info.value)
