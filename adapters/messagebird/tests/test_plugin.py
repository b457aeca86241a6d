"""The `messagebird` adapter is found through its entry point, and its keys are documented and checked."""

from __future__ import annotations

import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict
from smsgate.plugins import get_adapters
from smsgate_messagebird import MessagebirdAdapter, MessagebirdSettings

KEYS = {"address": "18005551212", "auth_token": "k3y-123"}


def settings(**keys: object) -> MessagebirdSettings:
    channels = {"c": {"adapter": "messagebird", **keys}}
    config = config_from_dict({"channels": channels}, {"messagebird": MessagebirdAdapter})
    return config.channels["c"].settings  # type: ignore[return-value]


def test_registered_through_the_entry_point() -> None:
    info = get_adapters()["messagebird"]
    assert info.adapter is MessagebirdAdapter
    assert info.distribution == "smsgate-messagebird"


def test_every_key_is_described() -> None:
    for name, spec in MessagebirdSettings.model_fields.items():
        assert spec.description, name


def test_routes() -> None:
    assert {a: r.methods for a, r in MessagebirdAdapter.routes.items()} == {"receive": ("POST",),
                                                                            "status": ("GET",)}


def test_defaults_and_coercions() -> None:
    s = settings(**KEYS)
    assert (s.base_url, s.max_length, s.secret, s.validate_signatures) == ("https://rest.messagebird.com", None,
                                                                           None, True)
    s = settings(**KEYS, secret="sign-key", base_url="http://127.0.0.1:9/", max_length="160")
    assert (s.base_url, s.max_length) == ("http://127.0.0.1:9", 160)
    assert s.secret is not None and s.secret.get_secret_value() == "sign-key"


def test_both_keys_are_secrets(smsgate_harness) -> None:
    harness = smsgate_harness({"mb": {"adapter": "messagebird", **KEYS, "secret": "sign-key-9"}})
    assert sorted(harness.gateway.adapters["mb"].secrets()) == ["k3y-123", "sign-key-9"]


@pytest.mark.parametrize(("keys", "field", "message"), [
    ({"address": "1"}, "auth_token", "Field required"),
    ({**KEYS, "auth_token": " "}, "auth_token", "must not be empty"),
    ({**KEYS, "secret": ""}, "secret", "must not be empty"),
    ({**KEYS, "address": ""}, "address", "at least 1 character"),
    ({**KEYS, "base_url": "ftp://x"}, "base_url", "http:// or https://"),
    ({**KEYS, "max_length": 0}, "max_length", "greater than or equal to 1"),
    ({**KEYS, "signing_key": "k"}, "signing_key", "Extra inputs"),
])
def test_config_errors_name_the_key(keys: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(**keys)
    assert info.value.field == field and message in str(info.value), str(info.value)
