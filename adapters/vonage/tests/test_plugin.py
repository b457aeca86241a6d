"""The `vonage` adapter is found through its entry point, and its keys are documented and checked."""

from __future__ import annotations

import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict
from smsgate.plugins import get_adapters
from smsgate_vonage import VonageAdapter, VonageSettings

KEYS = {"api_key": "k3y", "api_secret": "s3cret"}


def settings(**keys: object) -> VonageSettings:
    config = config_from_dict({"channels": {"c": {"adapter": "vonage", **keys}}}, {"vonage": VonageAdapter})
    return config.channels["c"].settings  # type: ignore[return-value]


def test_registered_through_the_entry_point() -> None:
    info = get_adapters()["vonage"]
    assert info.adapter is VonageAdapter
    assert info.distribution == "smsgate-vonage"


def test_every_key_is_described() -> None:
    for name, spec in VonageSettings.model_fields.items():
        assert spec.description, name


def test_routes() -> None:
    assert {a: r.methods for a, r in VonageAdapter.routes.items()} == {"receive": ("GET", "POST"),
                                                                       "status": ("GET", "POST")}


def test_defaults_and_coercions() -> None:
    s = settings(**KEYS)
    assert (s.base_url, s.max_length, s.signature_secret, s.signature_method) == (
        "https://rest.nexmo.com", 1600, None, "md5hash")
    s = settings(**KEYS, base_url="http://127.0.0.1:4010/", max_length="160", signature_method="SHA256")
    assert (s.base_url, s.max_length, s.signature_method) == ("http://127.0.0.1:4010", 160, "sha256")


@pytest.mark.parametrize(("keys", "field", "message"), [
    ({"api_secret": "s"}, "api_key", "Field required"),
    ({"api_key": "k"}, "api_secret", "Field required"),
    ({**KEYS, "api_secret": " "}, "api_secret", "must not be empty"),
    ({**KEYS, "base_url": "rest.nexmo.com"}, "base_url", "http:// or https://"),
    ({**KEYS, "max_length": 0}, "max_length", "greater than or equal to 1"),
    ({**KEYS, "signature_method": "sha3"}, "signature_method", "'md5hash', 'md5', 'sha1', 'sha256' or 'sha512'"),
    ({**KEYS, "nexmo_api_key": "k"}, "nexmo_api_key", "Extra inputs"),
])
def test_config_errors_name_the_key(keys: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(**keys)
    assert info.value.field == field and message in str(info.value), str(info.value)
