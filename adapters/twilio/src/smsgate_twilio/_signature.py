"""`X-Twilio-Signature`: computing Twilio's webhook signature and checking a request against it.

Twilio signs the URL it called plus the form parameters (or, for JSON bodies, the URL carrying the body's
SHA-256) with the auth token. Proxies and providers disagree about default ports and repeated parameters, so
every variant Twilio may have signed is tried, each at the same cost.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from collections.abc import Iterable, Sequence

from smsgate import InboundRequest, RequestRejected

__all__ = ["SIGNATURE_HEADER", "SIGNATURE_SETTINGS_HEADER", "check_request", "compute_signature",
           "signature_is_valid"]

SIGNATURE_HEADER = "x-twilio-signature"
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"


def compute_signature(token: str, url: str, params: Iterable[tuple[str, str]] = (), *,
                      dedupe: bool = False) -> str:
    """Twilio's webhook signature: base64 HMAC-SHA1 keyed by `token` over `url` + each param name and its values.

    Names are sorted; the values of a repeated name are sorted too (and de-duplicated when `dedupe`, as
    Twilio's Python SDK does).
    """
    grouped: dict[str, list[str]] = {}
    for name, value in params:
        grouped.setdefault(name, []).append(value)
    data = [url]
    for name in sorted(grouped):
        values = sorted(set(grouped[name])) if dedupe else sorted(grouped[name])
        data.extend(name + value for value in values)
    # lone surrogates (undecodable multipart input) must not crash the check: they simply cannot match
    digest = hmac.new(token.encode("utf-8", "surrogatepass"), "".join(data).encode("utf-8", "surrogatepass"),
                      hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """`url` as given, plus the same URL with its default port added or removed (Twilio signs either)."""
    scheme, sep, rest = url.partition("://")
    default = {"https": "443", "http": "80"}.get(scheme.lower())
    if not sep or default is None:
        return [url]
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    userinfo, at, hostport = netloc.rpartition("@")
    prefix = f"{scheme}://{userinfo}{at}"
    if ":" not in hostport.rpartition("]")[2]:  # no explicit port (an IPv6 literal keeps its colons in [])
        return [url, f"{prefix}{hostport}:{default}{tail}"]
    host, _, port = hostport.rpartition(":")
    return [url, f"{prefix}{host}{tail}"] if port == default else [url]


def signature_is_valid(token: str, url: str, params: Sequence[tuple[str, str]], signature: str,
                       *, body: bytes | None = None) -> bool:
    """Check `signature` for a request to `url`; pass the raw `body` to allow the `bodySHA256` JSON variant.

    For the JSON variant Twilio puts the hex SHA-256 of the body in the `bodySHA256` query parameter and
    signs the URL alone, so the body hash is checked here and `params` must be empty.
    """
    if body is not None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True)
        claimed = query.get("bodySHA256", [""])[0].lower()
        if not hmac.compare_digest(hashlib.sha256(body).hexdigest().encode(), claimed.encode()):
            return False
        params = ()
    given = signature.strip().encode("utf-8", "replace")
    valid = False
    dedupes = (False, True) if len({(k, v) for k, v in params}) != len(params) else (False,)
    for candidate in _url_variants(url):
        for dedupe in dedupes:
            expected = compute_signature(token, candidate, params, dedupe=dedupe).encode()
            valid |= hmac.compare_digest(expected, given)  # no early exit: every variant costs the same
    return valid



def check_request(req: InboundRequest, token: str) -> None:
    """403 unless `req` carries a valid X-Twilio-Signature, keyed by `token`, for the URL Twilio called."""
    signature = req.headers.get(SIGNATURE_HEADER, "")
    if not signature:
        raise RequestRejected("missing request signature (X-Twilio-Signature)", 403)
    settings_header = req.headers.get(SIGNATURE_SETTINGS_HEADER, "")
    algorithm = next((v.strip() for k, _, v in (p.partition("=") for p in settings_header.split(","))
                      if k.strip() == "algorithm" and v.strip()), "HMAC_SHA1")
    if algorithm.upper() != "HMAC_SHA1":
        raise RequestRejected(f"unsupported signature algorithm {algorithm[:32]!r}: smsgate checks "
                              "auth-token HMAC_SHA1 signatures only", 403)
    json_variant = "bodySHA256" in req.query_params() and req.content_type != "application/x-www-form-urlencoded"
    params = [] if json_variant else list(req.form)
    if not signature_is_valid(token, req.url, params, signature, body=req.body if json_variant else None):
        raise RequestRejected(f"invalid request signature for {req.url} (is [gateway] public_url, or "
                              "trust_proxy behind a proxy, the URL Twilio calls?)", 403)
