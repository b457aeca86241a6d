"""Reading an HTTP request safely: a bounded body, a client that vanishes, forms and multipart, the URL as
the aggregator called it. Shared by the channel routes, the bridge routes and the API."""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import AsyncGenerator

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

from .._adapter import InboundRequest
from ..errors import RequestRejected

__all__ = ["ClientGone", "gone", "parse_request", "read_body"]

log = logging.getLogger("smsgate.app")


class ClientGone(RequestRejected):
    """The client disconnected (or was dropped for stalling) before its whole body arrived: nobody hears an
    answer, so it is one log line, not a stored channel log or a traceback."""

    def __init__(self) -> None:
        super().__init__("the client disconnected before sending the whole body", 400)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or a 413 as soon as it grows past `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise RequestRejected(f"body larger than {limit} bytes", 413)
        except ValueError:
            raise RequestRejected("invalid Content-Length header") from None
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise RequestRejected(f"body larger than {limit} bytes", 413)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone() from None
    return b"".join(chunks)


def gone(request: Request) -> None:
    """Log, in one line, that a client disconnected mid-body."""
    client = request.client
    log.info("%s %r: the client disconnected mid-body (%s)", request.method, request.scope["path"][:200],
             f"{client.host}:{client.port}" if client else "?")


async def parse_request(request: Request, public_url: str, trust_proxy: bool, limit: int, *,
                        raw_form: bool = False) -> InboundRequest:
    """Turn a Starlette request into an `InboundRequest`, with the URL as the aggregator called it; a form body
    that is not UTF-8 is a 400 unless `raw_form` (the route reads `raw_fields()`, see `route`)."""
    started = time.perf_counter()
    body = await read_body(request, limit)
    headers = {k.lower(): v for k, v in request.headers.items()}
    query_string = request.scope.get("query_string", b"").decode("latin-1")
    query = urllib.parse.parse_qsl(query_string, keep_blank_values=True)
    root = request.scope.get("root_path", "")
    # the path as sent on the wire (still percent-encoded): signatures are computed over that form
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else urllib.parse.quote(request.scope["path"])
    if root and path.startswith(root):  # Starlette keeps the mount prefix in `path`
        path = path[len(root):]
    if trust_proxy:
        proto = headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
        host = headers.get("x-forwarded-host", headers.get("host", request.url.netloc)).split(",")[0].strip()
        base = f"{proto}://{host}{root}"
    else:
        base = public_url  # the URL the aggregator was told to call, whatever proxies sit in between
    url = base + path + (f"?{query_string}" if query_string else "")
    form: list[tuple[str, str]] = []
    files: dict[str, bytes] = {}
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if body and ctype == "application/x-www-form-urlencoded":
        try:
            form = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            if not raw_form:
                raise RequestRejected("form body is not valid UTF-8") from None
            # the route reads the bytes through raw_fields(); `form` stays a readable, lossy view of them
            form = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True,
                                          errors="replace")
    elif body and ctype == "multipart/form-data":
        async def stream() -> AsyncGenerator[bytes, None]:
            yield body

        try:
            data = await MultiPartParser(request.headers, stream(), max_files=20, max_fields=1000).parse()
        except (MultiPartException, ValueError, UnicodeDecodeError) as exc:
            raise RequestRejected(f"invalid multipart body: {exc}") from None
        for key, value in data.multi_items():
            if isinstance(value, UploadFile):
                files[key] = await value.read()
            else:
                form.append((key, value))
    return InboundRequest(method=request.method, url=url, headers=headers, query=query, body=body, form=form,
                          files=files, started=started)
