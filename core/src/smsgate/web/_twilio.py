"""Twilio's Messages API at `/2010-04-01/Accounts/{AccountSid}/Messages…`: the HTTP side of the front
(`smsgate.platform.twilio`), served when the config has a `[twilio_api]` table.

Every request is authenticated first (HTTP basic auth, the account SID and its auth token: 401 with Twilio's
20003), then the path's account must be the caller's (else Twilio's 404), then the method must fit the
resource (405, 20004). Every refusal is Twilio's error JSON, so the SDKs raise their own REST exception.
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from ..config import GatewaySettings
from ..errors import RequestRejected, StoreUnavailable
from ..platform.twilio import API_VERSION, Account, Accounts, TwilioError, TwilioFront, error_body, not_found
from ._requests import ClientGone, gone, read_body

__all__ = ["twilio_routes"]

log = logging.getLogger("smsgate.twilio")
PREFIX = f"/{API_VERSION}"
_FORM = "application/x-www-form-urlencoded"
_AUTHENTICATE = {"WWW-Authenticate": 'Basic realm="Twilio API"'}


def _error(code: int, message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, status), status_code=status, headers=headers)


def twilio_routes(front: TwilioFront, accounts: Accounts, settings: GatewaySettings) -> BaseRoute:
    """The front's routes under one prefix (one match for the app's router to try): the Messages list and
    instance resources, and Twilio's 404 for the rest of the API."""

    def account_of(request: Request) -> Account | JSONResponse:
        account = accounts.authenticate(request.headers.get("authorization", ""))
        if account is None:
            return _error(20003, "Authenticate", 401, _AUTHENTICATE)
        if request.path_params.get("account", account.sid) != account.sid:
            return _error(*_not_found(request.scope["path"]))
        return account

    async def form(request: Request) -> list[tuple[str, str]]:
        body = await read_body(request, settings.max_body_bytes)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not body or ctype != _FORM:  # Twilio reads form bodies only: anything else carries no parameter
            return []
        try:
            return urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise TwilioError(400, "The request body is not valid UTF-8.") from None

    def query(request: Request) -> list[tuple[str, str]]:
        return urllib.parse.parse_qsl(request.scope.get("query_string", b"").decode("latin-1"),
                                      keep_blank_values=True)

    async def answer(request: Request, handler: Any) -> Response:
        try:
            status, body = await handler()
        except TwilioError as exc:
            return _error(exc.code, exc.message, exc.status, exc.headers)
        except ClientGone:
            gone(request)
            return _error(400, "The client disconnected before sending the whole body.", 400)
        except RequestRejected as exc:  # a body over max_body_bytes, a bad Content-Length
            return _error(exc.status_code, exc.reason, exc.status_code)
        except StoreUnavailable as exc:  # nothing was stored: the client retries
            log.error("store unavailable: %s", exc)
            return _error(20503, "Service unavailable, retry later", 503, {"Retry-After": "5"})
        if body is None:
            return Response(status_code=status)
        return JSONResponse(body, status_code=status)

    async def messages(request: Request) -> Response:
        account = account_of(request)
        if isinstance(account, JSONResponse):
            return account
        path = f"{PREFIX}/Accounts/{account.sid}/Messages.json"
        if request.method == "POST":
            async def create() -> tuple[int, Any]:
                return await front.create(account, await form(request))
            return await answer(request, create)
        if request.method in ("GET", "HEAD"):
            return await answer(request, lambda: front.listing(account, path, query(request)))
        return _error(20004, "Method not allowed", 405, {"Allow": "GET, POST"})

    async def message(request: Request) -> Response:
        account = account_of(request)
        if isinstance(account, JSONResponse):
            return account
        sid = request.path_params["sid"]
        path = f"{PREFIX}/Accounts/{account.sid}/Messages/{urllib.parse.quote(sid, safe='')}.json"
        if request.method in ("GET", "HEAD"):
            return await answer(request, lambda: front.fetch(account, sid, path))
        if request.method == "POST":
            async def update() -> tuple[int, Any]:
                return await front.update(account, sid, path, await form(request))
            return await answer(request, update)
        if request.method == "DELETE":
            return await answer(request, lambda: front.delete(account, sid, path))
        return _error(20004, "Method not allowed", 405, {"Allow": "GET, POST, DELETE"})

    async def elsewhere(request: Request) -> Response:
        account = account_of(request)
        if isinstance(account, JSONResponse):
            return account
        return _error(*_not_found(request.scope["path"]))

    return Mount(PREFIX, routes=[_any_method(Route("/Accounts/{account}/Messages.json", messages)),
                                 _any_method(Route("/Accounts/{account}/Messages/{sid}.json", message)),
                                 _any_method(Route("/{rest:path}", elsewhere))])


def _any_method(route: Route) -> Route:
    """`route` taking every method, so the handler answers one it does not serve with Twilio's 405 JSON rather
    than Starlette's plain text (a Route without methods matches them all)."""
    route.methods = None
    return route


def _not_found(path: str) -> tuple[int, str, int]:
    error = not_found(path[:300])
    return error.code, error.message, error.status
