"""The adapter is found through its entry point and documents every setting."""

from __future__ import annotations

from smsgate.plugins import get_adapters
from smsgate_twilio import TwilioAdapter, TwilioSettings


def test_registered_through_the_entry_point() -> None:
    info = get_adapters()["twilio"]
    assert info.adapter is TwilioAdapter
    assert info.distribution == "smsgate-twilio"


def test_every_setting_is_described() -> None:
    for name, spec in TwilioSettings.model_fields.items():
        assert spec.description, name


def test_routes_and_flags() -> None:
    assert sorted(TwilioAdapter.routes) == ["receive", "status"]
    assert all(r.methods == ("POST",) for r in TwilioAdapter.routes.values())
    assert TwilioAdapter.allow_sender_ids
