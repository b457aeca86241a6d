"""The `africastalking` adapter is found through its entry point, and its keys are documented and checked."""

from __future__ import annotations

import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict
from smsgate.plugins import get_adapters
from smsgate_africastalking import AfricastalkingAdapter, AfricastalkingSettings

KEYS = {"username": "myapp", "api_key": "k3y"}


def settings(**keys: object) -> AfricastalkingSettings:
    config = config_from_dict({"channels": {"c": {"adapter": "africastalking", **keys}}},
                              {"africastalking": AfricastalkingAdapter})
    return config.channels["c"].settings  # type: ignore[return-value]


def test_registered_through_the_entry_point() -> None:
    info = get_adapters()["africastalking"]
    assert info.adapter is AfricastalkingAdapter
    assert info.distribution == "smsgate-africastalking"


def test_every_key_is_described() -> None:
    for name, spec in AfricastalkingSettings.model_fields.items():
        assert spec.description, name


def test_routes() -> None:
    assert {a: r.methods for a, r in AfricastalkingAdapter.routes.items()} == {
        a: ("POST",) for a in ("receive", "callback", "status", "delivery", "optout")}


def test_defaults_and_coercions() -> None:
    s = settings(**KEYS)
    assert (s.base_url, s.max_length, s.is_shared) == ("https://api.africastalking.com", 1600, False)
    s = settings(**KEYS, base_url="https://api.sandbox.africastalking.com/", is_shared="true", max_length="160")
    assert (s.base_url, s.is_shared, s.max_length) == ("https://api.sandbox.africastalking.com", True, 160)


@pytest.mark.parametrize(("keys", "field", "message"), [
    ({"api_key": "k"}, "username", "Field required"),
    ({"username": " ", "api_key": "k"}, "username", "must not be empty"),
    ({"username": "u"}, "api_key", "Field required"),
    ({**KEYS, "is_shared": "maybe"}, "is_shared", "valid boolean"),
    ({**KEYS, "base_url": "api.africastalking.com"}, "base_url", "http:// or https://"),
    ({**KEYS, "send_url": "https://api.africastalking.com/version1/messaging"}, "send_url", "Extra inputs"),
])
def test_config_errors_name_the_key(keys: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(**keys)
    assert info.value.field == field and message in str(info.value), str(info.value)
