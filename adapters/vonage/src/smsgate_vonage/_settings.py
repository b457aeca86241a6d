"""The keys of a `vonage` channel: the account's key and secret, where the SMS API lives, and webhook signing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from smsgate import ChannelSettings, HttpUrl, Secret

__all__ = ["SIGNATURE_METHODS", "VonageSettings"]

SIGNATURE_METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")


class VonageSettings(ChannelSettings):
    """Keys of a `vonage` channel (the shared keys, `address`, `country`, `tps`..., come from ChannelSettings).

    Named as RapidPro's Nexmo channel names them, without the `nexmo_` prefix.
    """

    api_key: Secret = Field(description="Vonage API key, sent as the api_key form field; masked in channel logs.")
    api_secret: Secret = Field(description="Vonage API secret, sent as the api_secret form field; masked.")
    base_url: HttpUrl = Field("https://rest.nexmo.com",
                              description="The SMS API's scheme and host; sends go to {base_url}/sms/json.")
    max_length: int = Field(1600, ge=1, description="Longest request text in UTF-8 bytes; Vonage splits each "
                                                    "request into SMS itself, smsgate splits above this.")
    signature_secret: Secret | None = Field(None, description="Vonage's signature secret: when set, every callback "
                                                              "must carry a valid `sig` (403 otherwise).")
    signature_method: Literal["md5hash", "md5", "sha1", "sha256", "sha512"] = Field(
        "md5hash", description="How Vonage signs callbacks: md5hash (its default) or an HMAC digest.")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")  # paths are appended to it

    @field_validator("signature_method", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value
