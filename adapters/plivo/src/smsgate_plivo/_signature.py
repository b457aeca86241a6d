"""`X-Plivo-Signature-V2`: Plivo's signature of its messaging callbacks, computed and checked.

Plivo signs the URL it called, without its query string, followed by a random nonce it sends alongside
(`X-Plivo-Signature-V2-Nonce`): base64(HMAC-SHA256(auth token, url + nonce)). `X-Plivo-Signature-Ma-V2` is the
same signature keyed with the main account's token, so a channel configured with either token is accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

from smsgate import InboundRequest, RequestRejected

__all__ = ["NONCE_HEADER", "SIGNATURE_HEADERS", "check_request", "signature_v2"]

SIGNATURE_HEADERS = ("x-plivo-signature-v2", "x-plivo-signature-ma-v2")
NONCE_HEADER = "x-plivo-signature-v2-nonce"


def signature_v2(token: str, url: str, nonce: str) -> str:
    """Plivo's V2 signature of a callback to `url` (its query and fragment are not signed) with `nonce`."""
    scheme, netloc, path, _, _ = urllib.parse.urlsplit(url)
    signed = urllib.parse.urlunsplit((scheme, netloc, path, "", "")) + nonce
    digest = hmac.new(token.encode(), signed.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def check_request(req: InboundRequest, token: str) -> None:
    """403 unless `req` carries a V2 signature (account or main account) of the URL Plivo called."""
    nonce = req.headers.get(NONCE_HEADER, "")
    given = [req.headers[h].strip() for h in SIGNATURE_HEADERS if req.headers.get(h, "").strip()]
    if not nonce or not given:
        raise RequestRejected("missing request signature (X-Plivo-Signature-V2 and X-Plivo-Signature-V2-Nonce)",
                              403)
    expected = signature_v2(token, req.url, nonce).encode()
    valid = False
    for signature in given:
        valid |= hmac.compare_digest(expected, signature.encode("utf-8", "replace"))  # no early exit
    if not valid:
        raise RequestRejected(f"invalid request signature for {req.url.split('?')[0]} (is [gateway] public_url, "
                              "or trust_proxy behind a proxy, the URL Plivo calls, and auth_token this number's "
                              "account token?)", 403)
