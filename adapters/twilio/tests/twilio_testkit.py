"""Shared values and helpers for the twilio adapter tests (imported by name: tests/ is put on sys.path)."""

from __future__ import annotations

import base64

# A fake account: "AC" + 32 hex digits, as Twilio's SIDs look (the core's vcr filter masks it in cassettes).
SID = "AC" + "f00dcafe" * 4
TOKEN = "fake-auth-token-4f1c2e9a7b"
BASIC = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
ADDRESS = "+12065551212"
MESSAGE_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
BASE = {"account_sid": SID, "auth_token": TOKEN, "address": ADDRESS}
