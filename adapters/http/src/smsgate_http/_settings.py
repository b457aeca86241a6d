"""The keys of an `http` channel: RapidPro's External API names, checked when the config loads.

Templates, header names, XPaths and pairs of keys that only work together are validated here, so a typo is a
config error at `smsgate check` instead of a stream of broken requests.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from smsgate import ChannelSettings, HttpUrl

from ._render import CONTENT_TYPES, DEFAULT_BODIES, VARIABLES, placeholders
from ._xml import compile_xpath

__all__ = ["HttpSettings"]

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # an HTTP header name (RFC 9110 token)


class HttpSettings(ChannelSettings):
    """Keys of an `http` channel; the names are RapidPro's, so an External API channel's config carries over."""

    send_url: str = Field(description="URL template for each outgoing part, e.g. https://agg.example/send?to={{to}}.")
    method: Literal["GET", "POST", "PUT"] = Field("POST", description="HTTP method of sends; GET sends no body.")
    content_type: str = Field("urlencoded", description="urlencoded, json, xml, or a literal Content-Type "
                                                        "(variables then go into the body unescaped).")
    body: str | None = Field(None, description="Body template for POST/PUT; default depends on content_type.")
    max_length: int = Field(160, gt=0, description="Split text longer than this many UTF-8 bytes (int or string).")
    encoding: Literal["D", "S"] = Field("D", description="D sends text as is; S applies GSM-7 smart substitutions.")
    mt_response_check: str = Field("", description="A substring every 2xx response body must contain.")
    send_authorization: SecretStr | None = Field(None, description="Value of the Authorization header of sends.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers; they override "
                                                                      "Content-Type and Authorization.")
    use_national: bool = Field(False, description="Send {{to}} as the national number, without country code.")
    mo_from_field: str = Field("", description="Parameter holding the sender, tried before from and sender.")
    mo_text_field: str = Field("", description="Parameter holding the text, tried before text.")
    mo_date_field: str = Field("", description="Parameter holding the RFC 3339 date, tried before date and time.")
    from_xpath: str = Field("", description="XPath of the sender in an XML callback (with text_xpath).")
    text_xpath: str = Field("", description="XPath of the text in an XML callback (with from_xpath).")
    mo_response: str = Field("", description="Literal body answered to a stored incoming message.")
    mo_response_content_type: str = Field("", description="Content-Type of mo_response (default text/plain).")
    inbound_secret: SecretStr | None = Field(None, description="Shared secret callbacks must send in "
                                                               "inbound_secret_header (off when unset).")
    inbound_secret_header: str = Field("X-Smsgate-Secret", description="Header that carries inbound_secret.")
    inbound_username: str = Field("", description="User name callbacks may send as HTTP basic auth.")
    inbound_password: SecretStr | None = Field(None, description="Password callbacks may send as HTTP basic auth.")
    health_url: HttpUrl | None = Field(None, description="A URL whose GET answers 2xx or 3xx while the aggregator "
                                                         "is up, for the link probe; default: a TCP connection to "
                                                         "send_url's host and port.")

    @field_validator("method", "encoding", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("content_type")
    @classmethod
    def _content_type(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must be urlencoded, json, xml or a Content-Type such as 'text/plain'")
        if "\r" in value or "\n" in value:
            raise ValueError("must not contain line breaks")
        return value.lower() if value.lower() in CONTENT_TYPES else value

    @field_validator("headers", mode="before")
    @classmethod
    def _headers(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        for name, raw in value.items():
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if isinstance(raw, bool):  # TOML true → "true", as Go's fmt.Sprint prints it
                raw = str(raw).lower()
            elif isinstance(raw, int | float):
                raw = str(raw)
            if not isinstance(raw, str):
                raise ValueError(f"header {name!r} must be a string, number or boolean")
            if "\r" in raw or "\n" in raw:
                raise ValueError(f"header {name!r} must not contain line breaks")
            out[name] = raw
        return out

    @field_validator("inbound_secret_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        if not _TOKEN.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid header name")
        return value

    @field_validator("mo_response_content_type")
    @classmethod
    def _no_newlines(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("must not contain line breaks")
        return value.strip()

    @field_validator("send_url")
    @classmethod
    def _send_url(cls, value: str) -> str:
        value = value.strip()
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (it may contain {{variables}})")
        return value

    @field_validator("from_xpath", "text_xpath")
    @classmethod
    def _xpath(cls, value: str) -> str:
        value = value.strip()
        if value:
            compile_xpath(value)  # its ValueError names the unsupported expression
        return value

    @model_validator(mode="after")
    def _consistent(self) -> HttpSettings:
        for key in ("send_url", "body"):
            unknown = placeholders(getattr(self, key) or "") - VARIABLES
            if unknown:
                names = ", ".join("{{" + u + "}}" for u in sorted(unknown))
                raise ValueError(f"{key} uses unknown variable(s) {names}; known: {', '.join(sorted(VARIABLES))}")
        if bool(self.from_xpath) != bool(self.text_xpath):
            raise ValueError("from_xpath and text_xpath must be set together (XML mode needs both)")
        if bool(self.inbound_username) != (self.inbound_password is not None):
            raise ValueError("inbound_username and inbound_password must be set together")
        return self

    def body_template(self) -> str:
        """The configured body, or the default for the content type (empty for xml and literal types)."""
        return self.body if self.body is not None else DEFAULT_BODIES.get(self.content_type, "")
