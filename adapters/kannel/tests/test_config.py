"""Settings validation, plugin discovery and `smsgate kannel-config`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict
from smsgate.plugins import get_adapters
from smsgate_kannel import GET_URL_QUERY, KannelAdapter, KannelSettings, kannel_config_text

CLI = Path(sys.executable).with_name("smsgate")
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
CHANNEL = {"adapter": "kannel", "address": "2020", "send_url": "http://127.0.0.1:13013/cgi-bin/sendsms",
           "username": "gate", "password": "secretpw"}


def config(gateway=None, **channels):
    return config_from_dict({"gateway": {"public_url": "https://sms.example.org", **(gateway or {})},
                             "channels": channels or {"kn": CHANNEL}}, {"kannel": KannelAdapter})


def test_registered_through_the_entry_point():
    info = get_adapters()["kannel"]
    assert info.adapter is KannelAdapter and info.distribution == "smsgate-kannel"
    assert set(KannelAdapter.routes) == {"receive", "status"}
    assert KannelAdapter.routes["receive"].methods == ("GET", "POST")


def test_defaults():
    s = KannelSettings.model_validate(CHANNEL)
    assert (s.dlr_mask, s.encoding, s.unicode_form, s.use_national, s.ignore_sent, s.smsc, s.priority,
            s.verify_tls, s.ca_bundle) == (27, "S", "utf16be", False, False, None, None, True, None)


def test_every_key_is_described():
    for name, info in KannelSettings.model_fields.items():
        assert info.description, name


@pytest.mark.parametrize(("change", "field"), [
    ({"send_url": "kannel:13013/cgi-bin/sendsms"}, "send_url"),
    ({"send_url": "ftp://kannel/cgi-bin/sendsms"}, "send_url"),
    ({"password": ""}, "password"),
    ({"username": ""}, "username"),
    ({"encoding": "X"}, "encoding"),
    ({"unicode_form": "utf16le"}, "unicode_form"),
    ({"priority": 4}, "priority"),
    ({"dlr_mask": -1}, "dlr_mask"),
    ({"ca_bundle": "/nonexistent.pem"}, "ca_bundle"),
    ({"smsc": ""}, "smsc"),
    ({"verify_ssl": False}, "verify_ssl"),  # courier's removed key: unknown keys are errors
])
def test_invalid_settings_name_the_field(change, field):
    with pytest.raises(ConfigError) as info:
        config(kn={**CHANNEL, **change})
    assert info.value.field == field


def test_kannel_config_text():
    text = kannel_config_text(config(), "kn")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines == [
        "group = sms-service",
        "keyword = default",
        "catch-all = true",
        "max-messages = 0",
        f'get-url = "https://sms.example.org/c/kn/receive?{GET_URL_QUERY}"',
    ]
    assert GET_URL_QUERY == "sender=%p&to=%P&message=%a&ts=%T&id=%I&coding=%c&charset=%C"
    assert "#smsc = smpp" in text and '#username = "gate"' in text
    assert "secretpw" not in text  # never print the channel's password


def test_kannel_config_text_uses_the_default_public_url_and_quotes_names():
    cfg = config_from_dict({"gateway": {"host": "10.0.0.5", "port": 8081},
                            "channels": {"my chan%": {**CHANNEL, "smsc": "mtn"}}}, {"kannel": KannelAdapter})
    text = kannel_config_text(cfg, "my chan%")
    # '%' is Kannel's escape character: a literal one is written '%%'
    assert f'get-url = "http://10.0.0.5:8081/c/my%%20chan%%25/receive?{GET_URL_QUERY}"' in text
    assert "#smsc-id = mtn\n#allowed-smsc-id = mtn\n#preferred-smsc-id = mtn\n" in text
    assert "#allowed-smsc-id =" not in kannel_config_text(config(), "kn")  # no smsc key: no routing lines


def test_kannel_config_text_errors():
    with pytest.raises(ConfigError, match="unknown channel 'nope'"):
        kannel_config_text(config(), "nope")
    with pytest.raises(ConfigError, match=r"cannot be written in kannel\.conf"):
        kannel_config_text(config({"public_url": 'https://x.example/"a'}), "kn")


def test_kannel_config_text_refuses_other_adapters():
    from smsgate import Adapter, ChannelSettings

    class Other(Adapter):
        name = "other"
        settings_model = ChannelSettings

    cfg = config_from_dict({"channels": {"o": {"adapter": "other"}}}, {"other": Other})
    with pytest.raises(ConfigError, match="not 'kannel'"):
        kannel_config_text(cfg, "o")


def test_cli_command(tmp_path):
    path = tmp_path / "smsgate.toml"
    path.write_text('[gateway]\npublic_url = "https://sms.example.org"\n\n[channels.kn]\nadapter = "kannel"\n'
                    'address = "2020"\nsend_url = "http://127.0.0.1:13013/cgi-bin/sendsms"\nusername = "gate"\n'
                    'password = "secretpw"\n')
    done = subprocess.run([str(CLI), "kannel-config", "--channel", "kn", "--config", str(path)], capture_output=True,
                          text=True, timeout=60, env=CLEAN_ENV)
    assert done.returncode == 0, done.stderr
    assert done.stdout == kannel_config_text(config(), "kn")
    wrong = subprocess.run([str(CLI), "--config", str(path), "kannel-config", "--channel", "other"],
                           capture_output=True, text=True, timeout=60, env=CLEAN_ENV)
    assert wrong.returncode == 2 and "unknown channel 'other'" in wrong.stderr and not wrong.stdout
