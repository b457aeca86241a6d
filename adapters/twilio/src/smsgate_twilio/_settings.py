"""The keys of a `twilio` channel: the account, where its API lives, and how webhooks are checked."""

from __future__ import annotations

from pydantic import Field, field_validator
from smsgate import ChannelSettings, HttpUrl, Secret

__all__ = ["TwilioSettings"]


class TwilioSettings(ChannelSettings):
    """Keys of a `twilio` channel (the shared keys such as `address` and `country` come from ChannelSettings)."""

    account_sid: str = Field(min_length=1, description="Account SID (AC...) used in the URL and as basic-auth user.")
    auth_token: Secret = Field(description="Auth token: the basic-auth password and the webhook signing key.")
    base_url: HttpUrl = Field("https://api.twilio.com",
                              description="API root of Twilio or of a Twilio-compatible provider.")
    messaging_service_sid: str = Field("", description="Messaging Service SID (MG...) sent as MessagingServiceSid.")
    link_shortening: bool = Field(False, description="Ask the messaging service to shorten links (ShortenUrls).")
    max_length: int = Field(1600, ge=1, description="Longest Body in UTF-8 bytes; longer texts are split.")
    ignore_dlrs: bool = Field(False, description="Answer non-failure status callbacks with Ignored.")
    validate_signatures: bool = Field(True, description="Reject webhooks without a valid X-Twilio-Signature.")
    health_url: HttpUrl | None = Field(None, description="A URL whose GET answers 2xx or 3xx while the provider is "
                                                         "up, for the link probe; default: a TCP connection to "
                                                         "base_url's host and port.")

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")  # paths are appended to it

