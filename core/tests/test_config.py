import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict, load_config

from tests.support.toy_adapter import Toy

ADAPTERS = {"toy": Toy}


def write(tmp_path, text):
    path = tmp_path / "smsgate.toml"
    path.write_text(text)
    return path


def test_loads_gateway_and_channels(tmp_path):
    path = write(tmp_path, """
[gateway]
port = 9000
public_url = "https://sms.example.com/"
api_token = "tok-123456"

[channels.kn1]
adapter = "toy"
address = "2020"
country = "rw"
password = "pw-secret"
""")
    cfg = load_config(path, ADAPTERS)
    assert cfg.gateway.port == 9000 and cfg.gateway.base_url() == "https://sms.example.com"
    channel = cfg.channels["kn1"]
    assert channel.settings.country == "RW" and channel.adapter_cls is Toy
    assert channel.settings.password.get_secret_value() == "pw-secret"
    assert "pw-secret" not in repr(channel.settings)
    assert "tok-123456" not in repr(cfg.gateway)


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, '[gateway]\nport = 9000\n[channels.a]\nadapter = "toy"\npassword = "from-file"\n')
    monkeypatch.setenv("SMSGATE_GATEWAY__PORT", "9100")
    monkeypatch.setenv("SMSGATE_CHANNELS__A__PASSWORD", "from-env")
    cfg = load_config(path, ADAPTERS)
    assert cfg.gateway.port == 9100
    assert cfg.channels["a"].settings.password.get_secret_value() == "from-env"


def test_whole_values_written_as_env_references_come_from_the_environment(tmp_path, monkeypatch):
    path = write(tmp_path, """
[gateway]
api_token = "${SMSGATE_TEST_API_TOKEN}"

[[gateway.webhooks]]
url = "https://hooks.example/in"
secret = "${SMSGATE_TEST_HOOK_SECRET}"

[channels.a]
adapter = "toy"
password = "pa${SMSGATE_TEST_NOT_A_REFERENCE}ss"
address = "$${literal}"
""")
    monkeypatch.setenv("SMSGATE_TEST_API_TOKEN", "token-from-env")
    monkeypatch.setenv("SMSGATE_TEST_HOOK_SECRET", "hook-secret-from-env-0123")
    cfg = load_config(path, ADAPTERS)
    assert cfg.gateway.api_token.get_secret_value() == "token-from-env"
    assert cfg.gateway.webhooks[0].secret.get_secret_value() == "hook-secret-from-env-0123"
    password = cfg.channels["a"].settings.password.get_secret_value()
    assert password == "pa${SMSGATE_TEST_NOT_A_REFERENCE}ss"  # only whole values are references
    assert cfg.channels["a"].settings.address == "${literal}"
    monkeypatch.delenv("SMSGATE_TEST_HOOK_SECRET")
    with pytest.raises(ConfigError) as error:
        load_config(path, ADAPTERS)
    assert str(error.value) == (f"{path}: gateway.webhooks[0].secret: refers to environment variable "
                                "SMSGATE_TEST_HOOK_SECRET, which is not set")


def test_config_path_from_environment(tmp_path, monkeypatch):
    path = write(tmp_path, "[gateway]\nport = 9200\n")
    monkeypatch.setenv("SMSGATE_CONFIG", str(path))
    assert load_config(None, ADAPTERS).gateway.port == 9200


@pytest.mark.parametrize(("text", "start", "fragments"), [
    ("[gateway\nport = 1", "", ["not valid TOML"]),
    ("[gateway]\nport = 'x'", "gateway.port: ", []),
    ("[gateway]\nportt = 1", "gateway.portt: ", ["Extra inputs"]),
    ('[channels.kn1]\naddress = "1"', "channels.kn1.adapter: ", ["field required"]),
    ('[channels.kn1]\nadapter = "nope"', "channels.kn1.adapter: ", ["unknown adapter 'nope'", "toy"]),
    ('[channels.kn1]\nadapter = "toy"\ntps = -1', "channels.kn1.tps: ", ["greater than 0"]),
    ('[channels.kn1]\nadapter = "toy"\ncountry = "Rwanda"', "channels.kn1.country: ", ["alpha-2"]),
    ('[channels.kn1]\nadapter = "toy"\npasword = "x"', "channels.kn1.pasword: ", ["Extra inputs"]),
    ("[channel.kn1]\nadapter = 'toy'", "", ["unknown table(s) channel"]),
])
def test_bad_config_names_file_channel_and_field(tmp_path, text, start, fragments):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, ADAPTERS)
    # one style: `file: dotted.key: reason`, the key written as it is in TOML
    assert str(info.value).startswith(f"{path}: {start}"), str(info.value)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_missing_explicit_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "absent.toml", ADAPTERS)


def test_no_file_means_embedded_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMSGATE_CONFIG", raising=False)
    cfg = load_config(None, ADAPTERS)
    assert cfg.channels == {} and cfg.gateway.database == "smsgate.sqlite3" and cfg.path is None


def _reference_table(model, title):
    """The docs/gateway.md table of `model`'s keys, rendered from the model (defaults and docstrings)."""
    from pydantic_core import PydanticUndefined

    rows = [f"| `{title}` key | default | meaning |", "|---|---|---|"]
    for name, field in model.model_fields.items():
        default = field.default
        if default is PydanticUndefined:
            shown = "required" if field.default_factory is None else "none"
        elif default is None or default == "":
            shown = "—"
        else:
            shown = f"`{default}`"
        rows.append(f"| `{name}` | {shown} | {field.description} |")
    return "\n".join(rows)


@pytest.mark.parametrize("title", ["[gateway]", "[channels.<name>]", "[[routes]]", "[tenants.<name>]"])
def test_every_core_config_key_is_in_the_reference(title):
    from pathlib import Path

    from smsgate import ChannelSettings
    from smsgate.host import GatewaySettings, RouteSettings, TenantSettings

    model = {"[gateway]": GatewaySettings, "[channels.<name>]": ChannelSettings, "[[routes]]": RouteSettings,
             "[tenants.<name>]": TenantSettings}[title]
    expected = _reference_table(model, title)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "gateway.md").read_text(encoding="utf-8")
    assert expected in docs, f"docs/gateway.md's configuration reference is stale; the table should read:\n{expected}"


def test_a_console_password_hash_is_checked_when_the_config_loads():
    from smsgate.config._secrets import hash_password

    good = hash_password("correct horse")
    cfg = config_from_dict({"gateway": {"console_password_hash": good}}, ADAPTERS)
    assert cfg.gateway.console_password_hash.get_secret_value() == good
    assert good in cfg.secrets()  # masked in every channel log, like every other secret of the config
    for bad in ("plain-password", "scrypt$1024$8$1$c2FsdA==$a2V5", good.replace("$8$", "$x$")):
        with pytest.raises(ConfigError, match=r"gateway\.console_password_hash"):
            config_from_dict({"gateway": {"console_password_hash": bad}}, ADAPTERS)
