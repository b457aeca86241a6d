"""The keys of a `jasmin` channel: the Jasmin SMS Gateway account, where its API lives, and how long texts are split."""

from __future__ import annotations

from pydantic import Field, field_validator
from smsgate import ChannelSettings, HttpUrl, Secret

__all__ = ["JasminSettings"]


class JasminSettings(ChannelSettings):
    """Keys of a `jasmin` channel (the shared keys, `address`, `country`, `tps`..., come from ChannelSettings).

    Keys are named as RapidPro's channel config names the same value, without its type prefix, so an operator
    moving a channel from RapidPro recognises them.
    """

    api_key: Secret = Field(description="API key, sent as a bearer token; masked in every channel log.")
    base_url: HttpUrl = Field("https://api.jasmin.example",
                              description="The API's scheme and host: a regional endpoint, or a local stand-in.")
    max_length: int = Field(1600, ge=1, description="Longest part in UTF-8 bytes; a longer text is sent in parts.")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")  # paths are appended to it
