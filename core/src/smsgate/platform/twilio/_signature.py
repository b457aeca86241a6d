"""`X-Twilio-Signature` on the requests smsgate sends as Twilio would: status callbacks and incoming webhooks.

The signature is base64(HMAC-SHA1(auth token, URL + each form parameter's name and value, names sorted)). The
URL signed is exactly the one requested: the SDKs' validators check it as they received it (Node's adds a `/`
to a URL without a path, so such a URL is requested and signed with one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from collections.abc import Iterable

__all__ = ["SIGNATURE_HEADER", "request_url", "signature"]

SIGNATURE_HEADER = "X-Twilio-Signature"


def request_url(url: str) -> str:
    """`url` as smsgate requests and signs it: with a `/` path when it has none."""
    parts = urllib.parse.urlsplit(url)
    return url if parts.path else urllib.parse.urlunsplit(parts._replace(path="/"))


def signature(token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's request signature of a POST of `params` to `url`, keyed by the account's auth `token`."""
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    data = [url]
    for name in sorted(grouped):
        data.extend(name + value for value in sorted(grouped[name]))
    digest = hmac.new(token.encode(), "".join(data).encode("utf-8", "surrogatepass"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
