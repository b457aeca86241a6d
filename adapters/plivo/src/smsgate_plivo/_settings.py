"""The keys of a `plivo` channel: the Plivo account, where its API lives, and how long texts are split."""

from __future__ import annotations

from pydantic import Field, field_validator
from smsgate import ChannelSettings, HttpUrl, Secret

__all__ = ["PlivoSettings"]


class PlivoSettings(ChannelSettings):
    """Keys of a `plivo` channel (the shared keys, `address`, `country`, `tps`..., come from ChannelSettings).

    Keys are named as RapidPro's channel config names the same value, without its `PLIVO_` prefix, so an operator
    moving a channel from RapidPro recognises them.
    """

    address: str = Field(min_length=1, description="The Plivo number or short code sent as `src` (a leading + "
                                                   "is dropped); callbacks must name it.")
    auth_id: str = Field(min_length=1, description="Auth ID: in the API's path and the basic-auth user.")
    auth_token: Secret = Field(description="Auth token: the basic-auth password and the key of Plivo's callback "
                                           "signatures; masked in every channel log.")
    app_id: str = Field("", description="The Plivo application whose message URL is this channel's `receive` "
                                        "route; never sent, but required to send, as in RapidPro.")
    base_url: HttpUrl = Field("https://api.plivo.com",
                              description="The API's scheme and host: a regional endpoint, or a local stand-in.")
    max_length: int = Field(1600, ge=1, description="Longest part in UTF-8 bytes; a longer text is sent in parts.")
    validate_signatures: bool = Field(True, description="Refuse callbacks without a valid X-Plivo-Signature-V2.")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")  # paths are appended to it
