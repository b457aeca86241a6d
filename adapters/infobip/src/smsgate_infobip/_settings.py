"""The keys of an `infobip` channel: how it signs in (an API key, or a user and password), where its API lives
(each Infobip account has its own base URL), and how texts are transliterated and split."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator
from smsgate import ChannelSettings, HttpUrl, Secret

__all__ = ["InfobipSettings"]


class InfobipSettings(ChannelSettings):
    """Keys of an `infobip` channel (the shared keys, `address`, `country`, `tps`..., come from ChannelSettings).

    Named as RapidPro's Infobip channel names them.
    """

    api_key: Secret | None = Field(None, description="API key, sent as `Authorization: App <api_key>`; wins over "
                                                     "username/password. Masked in channel logs.")
    username: str = Field("", description="Account user name for HTTP basic auth (with password).")
    password: Secret | None = Field(None, description="Account password for HTTP basic auth; masked.")
    base_url: HttpUrl = Field("https://api.infobip.com",
                              description="Your account's API base URL (https://xxxxx.api.infobip.com).")
    transliteration: str = Field("", description="Infobip's transliteration of texts (TURKISH, GREEK, "
                                                 "NON_UNICODE, ...); empty for none.")
    max_length: int = Field(1600, ge=1, description="Longest text in UTF-8 bytes; Infobip joins each part's SMS, "
                                                    "smsgate splits a longer text into several parts.")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")  # paths are appended to it

    @field_validator("transliteration")
    @classmethod
    def _upper(cls, value: str) -> str:
        value = value.strip().upper()
        if value and not value.replace("_", "").isalpha():
            raise ValueError("must be one of Infobip's names, such as TURKISH or NON_UNICODE")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> InfobipSettings:
        if self.api_key is None and not (self.username and self.password is not None):
            raise ValueError("an infobip channel needs api_key, or username and password")
        if bool(self.username) != (self.password is not None):
            raise ValueError("username and password must be set together")
        return self
