"""The keys of an `smpp` channel: the SMSC and the account, addressing, the bind's window and keep-alive, how
long texts travel, and how many instances may bind at once."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from smsgate import ChannelSettings, Secret

__all__ = ["SmppSettings"]


class SmppSettings(ChannelSettings):
    """Keys of an `smpp` channel (shared keys such as `address`, `country`, `timeout`, `max_attempts` come from
    ChannelSettings)."""

    host: str = Field(description="The SMSC's host name or IP address.")
    port: int = Field(2775, ge=1, le=65535, description="The SMSC's SMPP port.")
    system_id: str = Field(min_length=1, max_length=15, description="The ESME account (bind system_id).")
    password: Secret = Field(description="The bind password, at most 8 characters (masked in every log).")
    system_type: str = Field("", max_length=12, description="The bind system_type, if the SMSC wants one.")
    bind_mode: Literal["transceiver", "transmitter+receiver"] = Field(
        "transceiver", description="One transceiver bind, or a transmitter and a receiver bind side by side.")
    source_ton: int | None = Field(None, ge=0, le=255, description="source_addr_ton; default: 5 for a sender "
                                                                  "id with letters, 1 for +E.164, else 0.")
    source_npi: int | None = Field(None, ge=0, le=255, description="source_addr_npi; default: 0 for a sender id, "
                                                                  "1 (ISDN) otherwise.")
    dest_ton: int = Field(1, ge=0, le=255, description="dest_addr_ton (1: international, number sent without +).")
    dest_npi: int = Field(1, ge=0, le=255, description="dest_addr_npi (1: ISDN/E.164).")
    enquire_link_interval: float = Field(30.0, gt=0, description="Seconds of silence before an enquire_link "
                                                                 "checks the bind.")
    window: int = Field(10, ge=1, le=1000, description="Most submit_sm awaiting their submit_sm_resp at once (and the "
                                                       "serve worker's sends in flight, unless send_concurrency).")
    tps: float | None = Field(None, gt=0, description="Most submit_sm per second (each part counts).")
    data_coding: Literal[0, 1, 3] = Field(
        0, description="data_coding of GSM-7 texts: 0 SMSC default alphabet (GSM 03.38), 1 IA5/ASCII, 3 "
                       "Latin-1; also how an MO with data_coding 0 is read. Other texts go as UCS-2 (8).")
    long_message: Literal["udh", "sar", "payload"] = Field(
        "udh", description="How a long text travels: parts with a UDH, parts with SAR TLVs, or one "
                           "submit_sm with the whole text in message_payload.")
    receipts: bool = Field(True, description="Ask for delivery receipts (registered_delivery 1).")
    max_binds: int | None = Field(None, ge=1, le=100, description="Most `smsgate serve` instances sharing the "
                                                                  "database that bind this channel at once "
                                                                  "(a lease); none: no limit.")
    reconnect_max: float = Field(60.0, gt=0, description="Longest wait between reconnect attempts, in seconds "
                                                         "(backoff from 1 s, doubling, with jitter).")
    mo_redelivery_window: float = Field(
        600.0, ge=0, description="Seconds in which a deliver_sm identical to a stored MO is the SMSC redelivering "
                                 "it (SMPP MOs carry no id); 0 stores every one.")

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) > 8:
            raise ValueError("SMPP 3.4 passwords are at most 8 characters")
        return value

    @model_validator(mode="after")
    def _fill_the_window(self) -> SmppSettings:
        # the serve worker keeps as many sends in flight as the bind's window holds, unless told otherwise
        if self.send_concurrency is None:
            object.__setattr__(self, "send_concurrency", self.window)
        return self
