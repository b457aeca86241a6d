"""The `jasmin` adapter is found through its entry point, and its keys are documented and checked."""

from __future__ import annotations

import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict
from smsgate.plugins import get_adapters
from smsgate_jasmin import JasminAdapter, JasminSettings, decode_mo

KEYS = {"send_url": "http://jasmin:1401/send", "username": "esme", "password": "pw"}


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
    assert {a: r.methods for a, r in JasminAdapter.routes.items()} == {"receive": ("POST", "GET"),
                                                                        "status": ("POST", "GET")}
    assert all(r.raw_form for r in JasminAdapter.routes.values())  # MO bytes reach the adapter undecoded


def test_defaults_and_coercions() -> None:
    s = settings(**KEYS)
    assert (s.max_parts, s.max_length, s.dlr_level) == (5, None, 2)
    s = settings(**{**KEYS, "send_url": "http://jasmin:1401/send?"}, max_parts="7", max_length="600", dlr_level=3)
    assert (s.send_url, s.max_parts, s.max_length, s.dlr_level) == ("http://jasmin:1401/send", 7, 600, 3)


@pytest.mark.parametrize(("keys", "field", "message"), [
    ({k: v for k, v in KEYS.items() if k != "send_url"}, "send_url", "Field required"),
    ({**KEYS, "send_url": "ftp://x"}, "send_url", "http:// or https://"),
    ({**KEYS, "send_url": "http://jasmin:1401/send?priority=1"}, "send_url", "no query string"),
    ({k: v for k, v in KEYS.items() if k != "username"}, "username", "Field required"),
    ({**KEYS, "password": ""}, "password", "must not be empty"),
    ({**KEYS, "max_parts": 0}, "max_parts", "greater than or equal to 1"),
    ({**KEYS, "max_length": 0}, "max_length", "greater than or equal to 1"),
    ({**KEYS, "dlr_level": 4}, "dlr_level", "Input should be 1, 2 or 3"),
    ({**KEYS, "url": "x"}, "url", "Extra inputs"),
])
def test_config_errors_name_the_key(keys: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings(**keys)
    assert info.value.field == field and message in str(info.value), str(info.value)


@pytest.mark.parametrize(("data", "coding", "text"), [
    (b"\x1b\x65", 0, "€"),
    (b"Hello", 1, "Hello"),
    (b"caf\xe9", 3, "café"),
    ("日本".encode("shift_jis"), 5, "日本"),
    (b"\x00\x41", 8, "A"),
    (b"\x48\x69", 0xF0, "Hi"),  # GSM 03.38 message class, default alphabet
    (b"\xff", 0xF4, "\xff"),  # message class, 8-bit data
    (b"\xff\xfe", 99, "\xff\xfe"),  # unknown coding: every byte kept
])
def test_mo_text_by_data_coding(data: bytes, coding: int, text: str) -> None:
    assert decode_mo(data, coding) == text
