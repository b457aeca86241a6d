"""The keys of a `bandwidth` channel: the Bandwidth account and messaging application, where the API lives, how
long texts are split, and the optional credentials Bandwidth sends on its callbacks."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from smsgate import ChannelSettings, HttpUrl, Secret

__all__ = ["BandwidthSettings"]


class BandwidthSettings(ChannelSettings):
    """Keys of a `bandwidth` channel (the shared keys, `address`, `country`, `tps`..., come from ChannelSettings).

    Keys are named as RapidPro's channel config names the same value, without its type prefix, so an operator
    moving a channel from RapidPro recognises them.
    """

    username: str = Field(min_length=1, description="API user: the HTTP basic-auth user of every send.")
    password: Secret = Field(description="The API user's password (basic auth); masked in every channel log.")
    account_id: str = Field(min_length=1, description="Bandwidth account id: the path segment of the send URL.")
    messaging_application_id: str = Field(
        min_length=1, validation_alias=AliasChoices("messaging_application_id", "application_id"),
        description="The messaging application's id, sent as `applicationId` (RapidPro's older key "
                    "`application_id` is read too).")
    base_url: HttpUrl = Field("https://messaging.bandwidth.com",
                              description="The API's scheme and host: a regional endpoint, or a local stand-in.")
    max_length: int = Field(2048, ge=1, description="Longest part in UTF-8 bytes; a longer text is sent in parts.")
    callback_username: str | None = Field(
        None, min_length=1, description="User Bandwidth sends as basic auth on callbacks (the application's "
                                        "callback credentials); with it, callbacks without them are refused.")
    callback_password: SecretStr | None = Field(
        None, description="Password of those callback credentials; masked in every channel log.")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")  # paths are appended to it

    @model_validator(mode="after")
    def _callback_pair(self) -> BandwidthSettings:
        password = self.callback_password.get_secret_value() if self.callback_password else ""
        if bool(self.callback_username) != bool(password):
            raise ValueError("callback_username and callback_password must be set together")
        return self
