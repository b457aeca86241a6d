"""The keys of a `kannel` channel: the sendsms account, how texts are encoded, which reports to ask for, TLS."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from smsgate import ChannelSettings, HttpUrl, Secret

__all__ = ["KannelSettings"]


class KannelSettings(ChannelSettings):
    """Keys of a `kannel` channel (the shared keys such as `address` and `country` come from ChannelSettings)."""

    send_url: HttpUrl = Field(description="smsbox's sendsms URL, e.g. http://kannel:13013/cgi-bin/sendsms; "
                                          "fixed extra parameters in its query string are kept.")
    username: str = Field(min_length=1, description="The sendsms-user's username.")
    password: Secret = Field(description="The sendsms-user's password (masked in every channel log).")
    dlr_mask: int = Field(27, ge=0, le=63, description="Kannel dlr-mask: which DLR types to ask for "
                                                       "(27 = delivered + failed + accepted + rejected).")
    encoding: Literal["S", "D", "U"] = Field(
        "S", description="S: GSM-7 when smart substitution allows, else unicode; D: text as is; U: always unicode.")
    unicode_form: Literal["utf16be", "utf8"] = Field(
        "utf16be", description="How unicode travels with coding=2: UTF-16BE bytes (works without iconv) "
                               "or UTF-8 with charset=UTF-8.")
    use_national: bool = Field(False, description="Send `to` as the national number (+250788383383 → 788383383).")
    ignore_sent: bool = Field(False, description="Answer 'sent' DLRs (types 4 and 8) with Ignored.")
    smsc: str | None = Field(None, min_length=1, description="Route every send to this smsc-id (sent as smsc=).")
    priority: int | None = Field(None, ge=0, le=3, description="Kannel priority 0-3 for every send.")
    verify_tls: bool = Field(True, description="Verify the TLS certificate of an https send_url.")
    ca_bundle: str | None = Field(None, description="PEM file of CA certificates to verify send_url with.")

    @field_validator("ca_bundle")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"no such file: {value}")
        return value
