"""The keys of a `zenvia` channel: the Zenvia API token, where the API lives, how long texts are split, and the
optional secret Zenvia's webhooks carry."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from smsgate import ChannelSettings, HttpUrl, Secret

__all__ = ["WEBHOOK_SECRET_HEADER", "ZenviaSettings"]

#: the header a webhook subscription is told to send (its `webhook.headers`) when `webhook_secret` is set
WEBHOOK_SECRET_HEADER = "X-Smsgate-Secret"


class ZenviaSettings(ChannelSettings):
    """Keys of a `zenvia` channel (the shared keys, `address`, `country`, `tps`..., come from ChannelSettings).

    `address` is the sender: the SMS account alias configured in Zenvia's console (not necessarily a number).
    Keys are named as RapidPro's channel config names the same value, so an operator moving a channel from
    RapidPro recognises them.
    """

    api_key: Secret = Field(description="Zenvia API token, sent as the X-API-TOKEN header; masked in every "
                                        "channel log.")
    base_url: HttpUrl = Field("https://api.zenvia.com",
                              description="The API's scheme and host: another endpoint, or a local stand-in.")
    max_length: int = Field(1152, ge=1, description="Longest part in UTF-8 bytes; a longer text goes as several "
                                                    "contents of one request.")
    webhook_secret: SecretStr | None = Field(
        None, description="Value the webhook subscriptions send in the X-Smsgate-Secret header; with it, callbacks "
                          "without it are refused. Masked in every channel log.")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")  # paths are appended to it

    @field_validator("webhook_secret")
    @classmethod
    def _not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty (leave it out to accept callbacks without a secret)")
        return value
