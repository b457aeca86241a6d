"""The keys of a `clickatell` channel: the integration's API key, where its API lives, and how texts are split."""

from __future__ import annotations

from pydantic import Field, field_validator
from smsgate import ChannelSettings, HttpUrl, Secret

__all__ = ["ClickatellSettings"]


class ClickatellSettings(ChannelSettings):
    """Keys of a `clickatell` channel (the shared keys, `address`, `country`, `tps`..., come from ChannelSettings).

    Keys are named as RapidPro's channel config names the same value, so an operator moving a channel from RapidPro
    recognises them.
    """

    address: str = Field(min_length=1, description="The integration's number or short code, sent as `from` (a "
                                                   "leading + is dropped).")
    api_key: Secret = Field(description="The HTTP API integration's key, sent as the `apiKey` query parameter; "
                                        "masked in every channel log.")
    base_url: HttpUrl = Field("https://platform.clickatell.com",
                              description="The API's scheme and host: a regional endpoint, or a local stand-in.")
    max_length: int = Field(640, ge=1, description="Longest part in UTF-8 bytes; a longer text is sent in parts.")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")  # paths are appended to it
