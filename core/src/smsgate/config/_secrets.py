"""Operator credentials: the `[gateway] api_token` offered as a bearer token or typed into the console, and
the console password, kept only as an scrypt hash (`smsgate console-password` makes one).

The hash format is `scrypt$<n>$<r>$<p>$<salt>$<key>` (base64): the cost parameters travel with the hash, so
a stronger setting later does not lock out a password hashed with today's.

A tenant's bearer token may be configured as its hash instead, `sha256:<hex>`: a token is long and random, so a
fast hash keeps it as safe as scrypt keeps a password, and the API can check it on every request (scrypt's
0.1 s would let anyone with a wrong token take the gateway's CPU).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from pydantic import SecretStr

__all__ = ["bearer_token", "check_password_hash", "check_token_hash", "hash_password", "hash_token", "token_matches",
           "verify_password"]

# 32 MiB and about 0.1 s per hash here: costly for a guesser, cheap enough for a sign-in
_N, _R, _P = 2**15, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8", "surrogateescape"), salt=salt, n=n, r=r, p=p,
                          maxmem=2 * 128 * r * n + 2**20, dklen=_KEY_BYTES)


def hash_password(password: str) -> str:
    """The storable scrypt hash of `password`, with a fresh random salt."""
    if not password:
        raise ValueError("the password must not be empty")
    salt = os.urandom(_SALT_BYTES)
    key = _scrypt(password, salt, _N, _R, _P)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), base64.b64encode(salt).decode(),
                     base64.b64encode(key).decode()])


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.strip().split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("must be a hash made by `smsgate console-password` (scrypt$n$r$p$salt$key)")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        raise ValueError("must be a hash made by `smsgate console-password` (scrypt$n$r$p$salt$key)") from None
    if n < 2**14 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16 or n > 2**20 or not salt or not key:
        raise ValueError("scrypt parameters out of range (n a power of two from 16384 to 1048576, r 1-64, p 1-16)")
    return n, r, p, salt, key


def check_password_hash(stored: str) -> str:
    """`stored` if it is a well-formed hash from `hash_password`; ValueError saying what is wrong otherwise."""
    _parse(stored)
    return stored


def verify_password(password: str, stored: str) -> bool:
    """True when `password` is the one `stored` was made from (constant-time comparison)."""
    n, r, p, salt, key = _parse(stored)
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), key)


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def token_matches(expected: SecretStr | None, offered: str) -> bool:
    """True when a configured, non-empty token equals `offered` (constant-time comparison)."""
    if expected is None or not expected.get_secret_value():
        return False
    return hmac.compare_digest(offered.encode("utf-8", "surrogateescape"), expected.get_secret_value().encode())


_TOKEN_HASH = "sha256:"


def hash_token(token: str) -> str:
    """The `token_hash` of a tenant's bearer token: `sha256:` and the hex SHA-256 of its UTF-8 bytes."""
    return _TOKEN_HASH + hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def check_token_hash(stored: str) -> str:
    """`stored`, lower-cased, if it is `sha256:` and 64 hex digits; ValueError saying what is wrong otherwise."""
    value = stored.strip().lower()
    digest = value.removeprefix(_TOKEN_HASH)
    if not value.startswith(_TOKEN_HASH) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError("must be 'sha256:' and the 64 hex digits of the token's SHA-256 "
                         "(printf %s \"$TOKEN\" | sha256sum)")
    return value
