"""Vonage's signed callbacks: the `sig` parameter over every other parameter, keyed by the signature secret.

What is signed: every parameter except `sig`, sorted by name, each written `&name=value` with any `&` or `=`
inside the value replaced by `_`. `md5hash` is the hex MD5 of that string followed by the secret; the HMAC
methods are the hex HMAC of the string keyed by the secret. Vonage's own SDKs compare the lower-cased `sig`.
"""

from __future__ import annotations

import hashlib
import hmac

from smsgate import RequestRejected

__all__ = ["check_signature", "sign"]


def sign(params: dict[str, str], secret: str, method: str) -> str:
    """The hex signature Vonage sends as `sig` for `params` (without `sig`)."""
    data = "".join(f"&{key}={params[key].replace('&', '_').replace('=', '_')}" for key in sorted(params))
    raw, key = data.encode("utf-8", "surrogatepass"), secret.encode("utf-8", "surrogatepass")
    if method == "md5hash":
        return hashlib.md5(raw + key, usedforsecurity=False).hexdigest()
    return hmac.new(key, raw, method).hexdigest()


def check_signature(fields: dict[str, str], secret: str, method: str) -> None:
    """403 unless `fields` carry a `sig` that signs the others with `secret`."""
    given = fields.get("sig", "").strip().lower()
    if not given:
        raise RequestRejected("missing request signature (sig): the channel has a signature_secret", 403)
    expected = sign({k: v for k, v in fields.items() if k != "sig"}, secret, method)
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise RequestRejected(f"invalid request signature (sig) for signature_method {method!r}", 403)
