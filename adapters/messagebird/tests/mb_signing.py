"""Signing test requests as MessageBird does (MessageBird-Signature-JWT), with PyJWT; shared by this folder's tests."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import jwt

KEY = "fake-messagebird-signing-key-" + "0123456789abcdef" * 3  # over 64 bytes: long enough for HS512


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def token(url: str, body: bytes = b"", *, key: str = KEY, now: float | None = None, algorithm: str = "HS256",
          **claims: Any) -> str:
    """A MessageBird-Signature-JWT for a request to `url` with `body`; `claims` override (None removes one)."""
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {"iss": "MessageBird", "nbf": issued, "exp": issued + 60, "jti": str(uuid.uuid4()),
                               "url_hash": sha256(url)}
    if body:
        payload["payload_hash"] = sha256(body)
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm=algorithm)
