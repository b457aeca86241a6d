"""Channel keys of the `http` adapter: defaults, coercions and the config errors a user sees."""

from __future__ import annotations

import pytest
from smsgate.errors import ConfigError
from smsgate.host import config_from_dict
from smsgate_http import HttpAdapter, HttpSettings, parse_rfc3339

URL = "https://agg.example/send"


def settings(**keys):
    config = config_from_dict({"channels": {"c": {"adapter": "http", "send_url": URL, **keys}}},
                              {"http": HttpAdapter})
    return config.channels["c"].settings


def test_defaults_match_rapidpro():
    s = settings()
    assert (s.method, s.content_type, s.max_length, s.encoding, s.mt_response_check, s.use_national) == (
        "POST", "urlencoded", 160, "D", "", False)
    assert s.body is None and s.send_authorization is None and s.headers == {}
    assert s.inbound_secret is None and s.inbound_password is None and s.inbound_secret_header == "X-Smsgate-Secret"
    assert s.body_template().startswith("id={{id}}&text={{text}}")


def test_default_json_body_is_the_seed_example():
    assert settings(content_type="json").body_template() == (
        '{"id": {{id}}, "text": {{text}}, "to": {{to}}, "to_no_plus": {{to_no_plus}}, "from": {{from}}, '
        '"from_no_plus": {{from_no_plus}}, "channel": {{channel}}}')
    assert settings(content_type="xml").body_template() == ""
    assert settings(content_type="json", body="").body_template() == ""  # an explicit empty body is kept


@pytest.mark.parametrize(("keys", "field", "value"), [
    ({"max_length": "30"}, "max_length", 30),
    ({"max_length": 70}, "max_length", 70),
    ({"method": "get"}, "method", "GET"),
    ({"encoding": "s"}, "encoding", "S"),
    ({"content_type": "JSON"}, "content_type", "json"),
    ({"content_type": " application/vnd.api+json "}, "content_type", "application/vnd.api+json"),
    ({"headers": {"X-Num": 5, "X-Bool": False}}, "headers", {"X-Num": "5", "X-Bool": "false"}),
    ({"send_url": "  http://agg.example/s?to={{to}}  "}, "send_url", "http://agg.example/s?to={{to}}"),
])
def test_coercions(keys, field, value):
    assert getattr(settings(**keys), field) == value


@pytest.mark.parametrize(("keys", "field", "message"), [
    ({"send_url": None}, "send_url", "Field required"),
    ({"max_length": "abc"}, "max_length", "integer"),
    ({"max_length": 0}, "max_length", "greater than 0"),
    ({"method": "PATCH"}, "method", "GET"),
    ({"encoding": "U"}, "encoding", "'D' or 'S'"),
    ({"content_type": " "}, "content_type", "urlencoded, json, xml"),
    ({"send_url": "ftp://agg.example"}, "send_url", "http:// or https://"),
    ({"send_url": URL + "?t={{txt}}"}, "(top level)", "send_url uses unknown variable(s) {{txt}}"),
    ({"body": "{{text}} {{nope}}"}, "(top level)", "body uses unknown variable(s) {{nope}}"),
    ({"from_xpath": "//from"}, "(top level)", "must be set together"),
    ({"from_xpath": "//from", "text_xpath": "//text()[1]"}, "text_xpath", "unsupported XPath"),
    ({"from_xpath": "count(//a)", "text_xpath": "//t"}, "from_xpath", "unsupported XPath"),
    ({"inbound_username": "agg"}, "(top level)", "inbound_username and inbound_password"),
    ({"inbound_password": "x"}, "(top level)", "inbound_username and inbound_password"),
    ({"inbound_secret_header": "X Bad"}, "inbound_secret_header", "not a valid header name"),
    ({"headers": {"X-A": "a\r\nX-Injected: 1"}}, "headers", "line breaks"),
    ({"headers": {"Bad Name": "a"}}, "headers", "not a valid header name"),
    ({"headers": {"X-A": ["a"]}}, "headers", "string, number or boolean"),
    ({"mo_response_content_type": "text/xml\r\nX: y"}, "mo_response_content_type", "line breaks"),
    ({"sendurl": URL}, "sendurl", "Extra inputs"),
])
def test_config_errors_name_the_field(keys, field, message):
    raw = {"adapter": "http", "send_url": URL, **keys}
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(ConfigError) as info:
        config_from_dict({"channels": {"c": raw}}, {"http": HttpAdapter})
    assert info.value.field == field and message in str(info.value), str(info.value)


def test_every_key_is_documented():
    for name, field in HttpSettings.model_fields.items():
        assert field.description, name


@pytest.mark.parametrize(("text", "iso"), [
    ("2017-06-23T12:30:00Z", "2017-06-23T12:30:00+00:00"),
    ("2017-06-23T12:30:00.5Z", "2017-06-23T12:30:00.500000+00:00"),
    ("2017-06-23T12:30:00.123456789Z", "2017-06-23T12:30:00.123456+00:00"),
    ("2017-06-23T12:30:00-05:30", "2017-06-23T12:30:00-05:30"),
])
def test_rfc3339(text, iso):
    assert parse_rfc3339(text).isoformat() == iso


@pytest.mark.parametrize("text", ["20170623T123000Z", "2017-06-23 12:30:00Z", "2017-06-23T12:30:00", "2017-06-23",
                                  "2017-06-23T12:30:00.Z", "2017-06-23T12:30:00+0200", "2017-06-23T24:00:00Z",
                                  "2017-06-23T12:30:00+24:00", "2017-06-23T12:30:00.1234567890Z", "",
                                  "２０１７-06-23T12:30:00Z"])
def test_rfc3339_rejects(text):
    with pytest.raises(ValueError):
        parse_rfc3339(text)


def test_a_trailing_newline_is_not_rfc3339():
    with pytest.raises(ValueError):
        parse_rfc3339("2017-06-23T12:30:00Z\n")


def test_a_header_name_with_a_trailing_newline_is_refused():
    with pytest.raises(ConfigError):
        settings(headers={"X-A\n": "a"})
