"""The keys of a `messagebird` channel: the access key, the signing key, where the API lives, and splitting."""

from __future__ import annotations

from pydantic import Field, field_validator
from smsgate import ChannelSettings, HttpUrl, Secret

__all__ = ["MessagebirdSettings"]


class MessagebirdSettings(ChannelSettings):
    """Keys of a `messagebird` channel (the shared keys, `address`, `country`, `tps`..., come from ChannelSettings).

    Keys are named as RapidPro's channel config names the same value, so an operator moving a channel from RapidPro
    recognises them.
    """

    address: str = Field(min_length=1, description="The originator: a number (as written, + kept), a short code "
                                                   "or an alphanumeric sender id.")
    auth_token: Secret = Field(description="The API access key, sent as `Authorization: AccessKey <auth_token>`; "
                                           "masked in every channel log.")
    secret: Secret | None = Field(None, description="The signing key of MessageBird's webhooks (not the access "
                                                    "key); callbacks are refused without it unless "
                                                    "validate_signatures is false.")
    base_url: HttpUrl = Field("https://rest.messagebird.com",
                              description="The API's scheme and host: a local stand-in in tests.")
    max_length: int | None = Field(None, ge=1, description="Longest body in UTF-8 bytes; a longer text is sent as "
                                                           "several messages. Unset: one message, which "
                                                           "MessageBird concatenates itself.")
    validate_signatures: bool = Field(True, description="Refuse callbacks without a valid MessageBird-Signature-JWT.")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")  # paths are appended to it
