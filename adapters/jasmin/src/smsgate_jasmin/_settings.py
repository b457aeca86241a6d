"""The keys of a `jasmin` channel: the Jasmin HTTP API user, where its /send lives, which receipts to ask for,
and how long texts are cut."""

from __future__ import annotations

import urllib.parse
from typing import Literal

from pydantic import Field, field_validator
from smsgate import ChannelSettings, HttpUrl, Secret

__all__ = ["JasminSettings"]


class JasminSettings(ChannelSettings):
    """Keys of a `jasmin` channel (the shared keys, `address`, `country`, `tps`..., come from ChannelSettings).

    Keys are named as RapidPro's channel config names the same value, so an operator moving a channel from
    RapidPro recognises them.
    """

    send_url: HttpUrl = Field(description="Jasmin's HTTP API send URL, e.g. http://jasmin:1401/send (no query "
                                          "string: Jasmin refuses any parameter it does not know).")
    username: str = Field(min_length=1, description="The Jasmin user of the HTTP API (sent as `username`).")
    password: Secret = Field(description="Its password (sent as `password`); masked in every channel log.")
    max_parts: int = Field(5, ge=1, le=255, description="Jasmin's `long_content_max_parts` (default 5): a text "
                                                        "needing more SMS parts goes as several /send calls.")
    max_length: int | None = Field(None, ge=1, description="Longest text per /send in UTF-8 bytes (courier's "
                                                           "split); unset: texts are cut only at max_parts.")
    dlr_level: Literal[1, 2, 3] = Field(2, description="Receipts to ask for: 2 the SMSC's delivery receipts "
                                                       "(courier), 1 the upstream's acceptance, 3 both.")

    @field_validator("send_url")
    @classmethod
    def _no_query(cls, value: str) -> str:
        if urllib.parse.urlsplit(value).query:
            raise ValueError("must have no query string: Jasmin answers 400 to any parameter it does not know")
        return value.rstrip("?")
