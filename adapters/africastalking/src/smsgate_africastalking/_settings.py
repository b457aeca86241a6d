"""The keys of an `africastalking` channel: the Africa's Talking application, where its API lives, whether the
sender is a shared short code, and how long texts are split."""

from __future__ import annotations

from pydantic import Field, field_validator
from smsgate import ChannelSettings, HttpUrl, Secret

__all__ = ["AfricastalkingSettings"]


class AfricastalkingSettings(ChannelSettings):
    """Keys of an `africastalking` channel (the shared keys, `address`, `country`, `tps`..., come from
    ChannelSettings). Named as RapidPro's Africa's Talking channel names them."""

    username: str = Field(min_length=1, description="The application's user name (`sandbox` in the sandbox).")
    api_key: Secret = Field(description="The application's API key, sent as the apiKey header; masked in logs.")
    is_shared: bool = Field(False, description="The address is a shared short code: send without `from`, so "
                                               "Africa's Talking picks the sender.")
    base_url: HttpUrl = Field("https://api.africastalking.com", description="The API's scheme and host; sends go "
                              "to {base_url}/version1/messaging (sandbox: https://api.sandbox.africastalking.com).")
    max_length: int = Field(1600, ge=1, description="Longest request text in UTF-8 bytes; a longer text is sent as "
                                                    "several requests.")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")  # paths are appended to it

    @field_validator("username")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()
