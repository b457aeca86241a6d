"""The web console at `/ui`: what an operator looks at (channels, messages, one message with its logs, the
outbox) and the two things they do (send a test message, resend a failed one).

Server-rendered (Jinja2 templates, package data of this module); htmx (vendored, served from `/ui/static`)
refreshes the channel summary. Sign-in takes the api_token or the console password (the operator: everything),
or a tenant's token (its channels and their messages only, as its API calls see them); the session is a signed
cookie (see `_session`), and every form carries the session's CSRF token. Pages send a Content-Security-Policy
that allows nothing but this gateway, so the console never makes an external request.
"""

from __future__ import annotations

import asyncio
import urllib.parse
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..._models import Status, utcnow
from ...config import GatewaySettings, TenantSettings
from ...config._secrets import verify_password
from ...errors import ConfigError, LimitReached, MessageInvalid, RequestRejected
from ...gateway import Channels, Sending, resend_id
from ...store import Backlog, Reads, SessionRevocations
from .._callers import OPERATOR, Caller, Callers
from .._requests import read_body
from ._chart import STATUSES, hourly_svg
from ._session import MAX_AGE, Sessions, csrf_ok, new_session
from ._signin import SignInLimits, client_address

__all__ = ["console_mount"]

PAGE_SIZE = 50
_FORM_LIMIT = 64 * 1024
_SECURITY_HEADERS = {
    # nothing but this gateway: no CDN, no font service, no inline script; SVG charts are styled by classes
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on the console's own forms
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_DIRECTIONS = ("in", "out")
_MESSAGE_STATUSES = sorted({s.value for s in Status} | {"received"})
Handler = Callable[[Request, dict[str, Any]], Awaitable[Response]]


def console_mount(sending: Sending, reads: Reads, channels: Channels, settings: GatewaySettings,
                  revocations: SessionRevocations, path: str = "/ui",
                  tenants: Mapping[str, TenantSettings] | None = None, routed: bool = False) -> Mount:
    """The console, to mount at `path` (create_app does); `revocations` ends signed-out sessions on every
    instance, `tenants` may sign in too, `routed` offers sending without a channel (the config has [[routes]])."""
    return Mount(path, app=Console(sending, reads, channels, settings, revocations, tenants, routed).app,
                 name="console")


def _when(value: str | None) -> str:
    """An ISO timestamp as `YYYY-MM-DD HH:MM:SS` (UTC)."""
    return (value or "")[:19].replace("T", " ")


def _ago(value: str | None, now: datetime | None = None) -> str:
    """How long ago `value` was, in the largest sensible unit."""
    if not value:
        return "—"
    seconds = max(0.0, ((now or utcnow()) - datetime.fromisoformat(value)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def _target(target: str) -> str:
    """An outbox target for display: a webhook URL without its query, which may carry the receiver's token."""
    kind, _, rest = target.partition(":")
    if kind != "webhook" and not kind.startswith("webhook@"):
        return target
    parts = urllib.parse.urlsplit(rest)
    return f"{kind}:{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}{'?…' if parts.query else ''}"


class Console:
    """The console's Starlette app: it sends through `sending`, reads `reads` and shows `channels`; sign-outs
    go to `revocations`, which every instance consults."""

    def __init__(self, sending: Sending, reads: Reads, channels: Channels, settings: GatewaySettings,
                 revocations: SessionRevocations, tenants: Mapping[str, TenantSettings] | None = None,
                 routed: bool = False) -> None:
        self.sending, self.reads, self.channels_view = sending, reads, channels
        self.revocations = revocations
        self.settings = settings
        self.routed = routed
        self.callers = Callers(settings, tenants or {})
        self.sessions = Sessions(self.settings, [t.digest() for t in (tenants or {}).values()])
        self.env = Environment(loader=PackageLoader("smsgate.web.console", "templates"),
                               autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
        self.env.filters["when"] = _when
        self.env.filters["ago"] = _ago
        self.env.filters["target"] = _target
        # wrong secrets are limited per client address; one address's guesses never hold another's sign-in up
        self.limits = SignInLimits()
        guarded = self._guarded
        self.app = Starlette(routes=[
            Route("/", guarded(self.home), methods=["GET"]),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", guarded(self.logout, form=True), methods=["POST"]),
            Route("/channels", guarded(self.channels), methods=["GET"]),
            Route("/channels/live", guarded(self.channels_live), methods=["GET"]),
            Route("/messages", guarded(self.messages), methods=["GET"]),
            Route("/messages/{id}", guarded(self.message), methods=["GET"]),
            Route("/messages/{id}/resend", guarded(self.resend, form=True), methods=["POST"]),
            Route("/send", guarded(self.send_page), methods=["GET"]),
            Route("/send", guarded(self.send, form=True), methods=["POST"]),
            Route("/outbox", guarded(self.outbox), methods=["GET"]),
            Mount("/static", app=StaticFiles(packages=[("smsgate.web.console", "static")]), name="static"),
        ])

    # -- plumbing ---------------------------------------------------------------------------------------

    def render(self, request: Request, template: str, context: dict[str, Any], status_code: int = 200,
               session: dict[str, Any] | None = None) -> HTMLResponse:
        """A page from `template`, with the console's security headers."""
        base = str(request.scope.get("root_path", ""))
        html = self.env.get_template(template).render(base=base, session=session or {}, request=request,
                                                      channels=self._visible(request), **context)
        return HTMLResponse(html, status_code=status_code, headers=_SECURITY_HEADERS)

    @staticmethod
    def _caller(request: Request) -> Caller:
        """Who is signed in (`_guarded` sets it): the operator, or a tenant."""
        caller: Caller = getattr(request.state, "caller", OPERATOR)
        return caller

    def _visible(self, request: Request) -> list[str]:
        """The channels the signed-in caller sees."""
        caller = self._caller(request)
        return [name for name in self.channels_view.names() if caller.sees(name)]

    def _error(self, request: Request, status_code: int, title: str, detail: str,
               session: dict[str, Any] | None = None) -> HTMLResponse:
        return self.render(request, "error.html", {"title": title, "detail": detail}, status_code, session)

    def _guarded(self, handler: Handler, *, form: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """Only for a signed-in session; for a form, only with its CSRF token and from this origin."""

        async def endpoint(request: Request) -> Response:
            if not self.sessions.enabled:
                return self._disabled(request)
            session = await self._session(request)
            caller = self._session_caller(session)
            if caller is None:
                if request.method != "GET":
                    return self._error(request, 403, "Signed out", "Your session ended: sign in again.")
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                base = request.scope.get("root_path", "")
                login = f"{base}/login?next={urllib.parse.quote(target, safe='')}"
                if request.headers.get("hx-request") == "true":
                    # a live refresh after the session ended: take the whole page to the sign-in form, rather
                    # than letting htmx follow a redirect and swap the form into the refreshed part
                    target = urllib.parse.unquote(request.headers.get("hx-current-url", "")) or target
                    login = f"{base}/login?next={urllib.parse.quote(urllib.parse.urlsplit(target).path, safe='')}"
                    return Response(status_code=401, headers={"HX-Redirect": login})
                return RedirectResponse(login, 303)
            if form:
                try:
                    fields = await self._form(request)
                except RequestRejected as exc:
                    return self._error(request, exc.status_code, "Bad request", exc.reason, session)
                if not self._same_origin(request) or not csrf_ok(session, fields.get("csrf_token")):
                    return self._error(request, 403, "Refused", "This form did not come from this console or "
                                       "has expired (its CSRF token is missing or wrong). Reload the page and "
                                       "try again.", session)
                request.state.form = fields
            request.state.caller = caller
            return await handler(request, session)

        return endpoint

    async def _session(self, request: Request) -> dict[str, Any]:
        """The request's session; a signed-in one only while it has not been signed out on any instance."""
        session = self.sessions.load(request)
        if session.get("user") and (not session.get("sid") or await self.revocations.session_revoked(session["sid"])):
            return {}  # signed out (or a cookie from before sessions had ids): sign in again
        return session

    def _session_caller(self, session: dict[str, Any]) -> Caller | None:
        """The caller a session signed in as, or None (signed out, or a tenant the config no longer has)."""
        user = str(session.get("user") or "")
        if not user:
            return None
        if user.startswith("tenant:"):
            return self.callers.tenant(user.removeprefix("tenant:"))
        return OPERATOR

    def _disabled(self, request: Request) -> HTMLResponse:
        return self._error(request, 403, "The console is off", "Set [gateway] api_token (or "
                           "console_password_hash, made by `smsgate console-password`) to sign in here.")

    async def _form(self, request: Request) -> dict[str, str]:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise RequestRejected("expected a form (application/x-www-form-urlencoded)", 415)
        body = await read_body(request, _FORM_LIMIT)
        try:
            pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise RequestRejected("the form is not valid UTF-8") from None
        return dict(pairs)

    def _same_origin(self, request: Request) -> bool:
        origin = request.headers.get("origin")
        if origin is None:
            return True  # browsers send Origin on every POST; without one the CSRF token alone decides
        host = request.headers.get("host", "")
        if self.settings.trust_proxy:
            host = request.headers.get("x-forwarded-host", host).split(",")[0].strip()
        return urllib.parse.urlsplit(origin).netloc == host

    # -- signing in ---------------------------------------------------------------------------------------

    def _next(self, request: Request, value: str | None) -> str:
        base = str(request.scope.get("root_path", ""))
        # only a path inside the console: never an open redirect to another site
        if value and value.startswith(f"{base}/") and not value.startswith("//") and "\\" not in value:
            return value
        return f"{base}/channels"

    async def login_page(self, request: Request) -> Response:
        if not self.sessions.enabled:
            return self._disabled(request)
        session = await self._session(request)
        if self._session_caller(session) is not None:
            return RedirectResponse(self._next(request, request.query_params.get("next")), 303)
        if not session.get("csrf"):
            session = new_session()
        response = self.render(request, "login.html", {"next": request.query_params.get("next", ""),
                                                       "error": None, "csrf": session["csrf"]})
        self.sessions.save(request, response, session)
        return response

    async def _who(self, secret: str) -> str | None:
        caller = self.callers.who(secret) if secret else None
        if caller is not None:
            return "token" if caller.tenant is None else f"tenant:{caller.tenant}"
        stored = self.settings.console_password_hash
        if stored is not None and secret and await self.limits.hash_check(verify_password, secret,
                                                                          stored.get_secret_value()):
            return "password"
        return None

    async def login(self, request: Request) -> Response:
        if not self.sessions.enabled:
            return self._disabled(request)
        session = self.sessions.load(request)
        try:
            fields = await self._form(request)
        except RequestRejected as exc:
            return self._error(request, exc.status_code, "Bad request", exc.reason)
        if not self._same_origin(request) or not csrf_ok(session, fields.get("csrf_token")):
            return self._error(request, 403, "Refused", "This sign-in form did not come from this console or has "
                               "expired (its CSRF token is missing or wrong). Reload the page and try again.")
        address = client_address(request, self.settings.trust_proxy)
        wait = self.limits.refused_for(address)
        if wait is not None:  # refused before the secret is even looked at
            response = self.render(request, "login.html", {
                "next": fields.get("next", ""), "csrf": session["csrf"],
                "error": f"Too many wrong sign-ins from your address: try again in {wait} s."}, 429)
            response.headers["Retry-After"] = str(wait)
            return response
        stamp = self.limits.begin(address)
        async with self.limits.turn(address):
            who = await self._who(fields.get("secret", ""))
        if who is None:
            return self.render(request, "login.html", {"next": fields.get("next", ""), "csrf": session["csrf"],
                                                       "error": "Wrong token or password."}, 401)
        self.limits.forgive(address, stamp)
        fresh = new_session(who)  # a new CSRF token too: nothing from before signing in carries over
        signed_in = RedirectResponse(self._next(request, fields.get("next")), 303)
        self.sessions.save(request, signed_in, fresh)
        return signed_in

    async def logout(self, request: Request, session: dict[str, Any]) -> Response:
        # the cookie may have been copied: its id is refused everywhere until the cookie would have expired anyway
        await self.revocations.revoke_session(session["sid"], utcnow() + timedelta(seconds=MAX_AGE))
        response = RedirectResponse(f"{request.scope.get('root_path', '')}/login", 303)
        self.sessions.clear(request, response)
        return response

    async def home(self, request: Request, session: dict[str, Any]) -> Response:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/channels", 303)

    # -- channels -----------------------------------------------------------------------------------------

    async def _channel_rows(self, request: Request) -> tuple[list[dict[str, Any]], Backlog]:
        now = utcnow()
        first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
        hours = [(first + timedelta(hours=i)).strftime("%Y-%m-%dT%H") for i in range(24)]
        store = self.reads
        visible = self._visible(request)
        counts, backlog, errors = await asyncio.gather(
            store.hourly_counts(first), store.backlog(), store.last_errors(visible))
        per: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
        for c in counts:
            status = "received" if c.direction == "in" else c.status
            bucket = per[c.channel][c.hour]
            bucket[status] = bucket.get(status, 0) + c.count
        rows = []
        for name in visible:
            settings = self.channels_view.settings(name)
            by_hour = per.get(name, {})
            totals = {s: sum(h.get(s, 0) for h in by_hour.values()) for s in STATUSES}
            recent = [by_hour.get(h, {}) for h in hours[-2:]]
            queued, oldest = backlog.queued.get(name, (0, None))
            rows.append({
                "name": name, "adapter": settings.adapter, "address": settings.address,
                "totals": {s: n for s, n in totals.items() if n}, "total": sum(totals.values()),
                "queued": queued, "oldest": oldest, "error": errors.get(name),
                "health": _health(recent, oldest, now, sum(totals.values())),
                "chart": hourly_svg(hours, by_hour, title=f"Messages per hour on channel {name}",
                                    chart_id=f"chart-{name}"),
                "hours": [(h, by_hour.get(h, {})) for h in hours],
            })
        return rows, backlog

    async def channels(self, request: Request, session: dict[str, Any]) -> Response:
        rows, backlog = await self._channel_rows(request)
        return self.render(request, "channels.html", {"rows": rows, "statuses": STATUSES, "outbox": backlog},
                           session=session)

    async def channels_live(self, request: Request, session: dict[str, Any]) -> Response:
        rows, _ = await self._channel_rows(request)
        return self.render(request, "_channels.html", {"rows": rows, "statuses": STATUSES}, session=session)

    # -- messages -----------------------------------------------------------------------------------------

    async def messages(self, request: Request, session: dict[str, Any]) -> Response:
        query = request.query_params
        filters = {k: (query.get(k) or "").strip() for k in ("channel", "direction", "status", "number", "text")}
        problems = []
        caller = self._caller(request)
        if filters["channel"] and (filters["channel"] not in self.channels_view or not caller.sees(filters["channel"])):
            problems.append(f"unknown channel {filters['channel']!r}")
        if filters["direction"] and filters["direction"] not in _DIRECTIONS:
            problems.append("direction must be in or out")
        if filters["status"] and filters["status"] not in _MESSAGE_STATUSES:
            problems.append(f"unknown status {filters['status']!r}")
        number = filters["number"]
        if number and filters["channel"] in self.channels_view:
            try:  # a local number, read with the channel's country
                number = self.channels_view.outgoing_number(filters["channel"], number)
            except MessageInvalid:
                pass
        elif number and not number.startswith("+") and number.replace(" ", "").isdigit():
            number = "+" + number.replace(" ", "")
        page = None
        if not problems:
            try:
                page = await self.reads.find_messages(
                    channel=filters["channel"] or None, direction=filters["direction"] or None,
                    status=filters["status"] or None, number=number or None, text=filters["text"] or None,
                    cursor=query.get("cursor") or None, limit=PAGE_SIZE, channels=caller.listing)
            except ValueError as exc:
                problems.append(str(exc))
        keep = {k: v for k, v in filters.items() if v}
        older = (f"?{urllib.parse.urlencode({**keep, 'cursor': page.next_cursor})}"
                 if page is not None and page.next_cursor else None)
        return self.render(request, "messages.html", {
            "filters": filters, "page": page, "problems": problems, "older": older,
            "newest": f"?{urllib.parse.urlencode(keep)}" if query.get("cursor") else None,
            "statuses": _MESSAGE_STATUSES, "number": number}, 400 if problems else 200, session)

    async def message(self, request: Request, session: dict[str, Any], *, error: str | None = None,
                      status_code: int = 200) -> Response:
        message_id = request.path_params["id"]
        store = self.reads
        caller = self._caller(request)
        record = await store.get_message(message_id)
        if record is None or not caller.sees(record.channel):  # another tenant's message is no message
            return self._error(request, 404, "No such message", f"No message has the id {message_id!r}.", session)
        logs, outbox = await asyncio.gather(store.list_logs(message_id=message_id, limit=200),
                                            store.outbox_for(message_id))
        if caller.tenant is not None:  # its channels' exchanges, and calls to its own webhooks only
            logs = [log for log in logs if caller.sees(str(log.get("channel")))]
            outbox = [item for item in outbox if str(item.get("target", "")).startswith(f"webhook@{caller.tenant}:")]
        resent = None
        if record.direction == "out" and record.status == Status.FAILED.value:
            resent = await store.get_message(resend_id(record.id))
        return self.render(request, "message.html", {
            "m": record, "logs": list(reversed(logs)), "outbox": outbox, "resent": resent, "error": error,
            "done": request.query_params.get("done"), "can_resend": record.direction == "out"
            and record.status == Status.FAILED.value and resent is None and record.channel in self.channels_view
            and caller.sees(record.channel),
        }, status_code, session)

    async def resend(self, request: Request, session: dict[str, Any]) -> Response:
        message_id = request.path_params["id"]
        caller = self._caller(request)
        try:
            original = await self.reads.get_message(message_id)
            if original is None or not caller.sees(original.channel):
                raise KeyError(message_id)
            message = await self.sending.prepare_resend(message_id)
        except KeyError:
            return self._error(request, 404, "No such message", f"No message has the id {message_id!r}.", session)
        except (MessageInvalid, ConfigError) as exc:
            reason = exc.reason if isinstance(exc, MessageInvalid) else str(exc)
            return await self.message(request, session, error=reason, status_code=409)
        if caller.tenant is not None:  # the copy is the tenant's: its limits apply
            message.tenant = caller.tenant
        try:
            outcome = await self.sending.send(message)
        except LimitReached as exc:
            return await self.message(request, session, error=exc.reason, status_code=429)
        base = request.scope.get("root_path", "")
        return RedirectResponse(f"{base}/messages/{outcome.message.id}?done=resent", 303)

    # -- sending ------------------------------------------------------------------------------------------

    def _send_form(self, request: Request, session: dict[str, Any], fields: dict[str, str], error: str | None,
                   status_code: int = 200) -> Response:
        return self.render(request, "send.html", {"f": fields, "error": error, "routed": self.routed}, status_code,
                           session)

    async def send_page(self, request: Request, session: dict[str, Any]) -> Response:
        visible = self._visible(request)
        first = "" if self.routed or not visible else visible[0]
        fields = {"channel": request.query_params.get("channel", first), "to": "", "text": "",
                  "id": str(uuid.uuid4())}
        return self._send_form(request, session, fields, None)

    async def send(self, request: Request, session: dict[str, Any]) -> Response:
        fields: dict[str, str] = request.state.form
        channel, to, text = fields.get("channel", ""), fields.get("to", "").strip(), fields.get("text", "")
        try:
            message_id = str(uuid.UUID(fields.get("id", "")))
        except ValueError:
            message_id = str(uuid.uuid4())
        fields = {"channel": channel, "to": to, "text": text, "id": message_id}
        caller = self._caller(request)
        if channel and (channel not in self.channels_view or not caller.sees(channel)):
            return self._send_form(request, session, fields, f"Unknown channel {channel!r}.", 422)
        try:
            # the form's id makes a double submit send once, as `smsgate send --id` does; no channel: routed
            message = await self.sending.prepare(channel or None, to, text, id=message_id, tenant=caller.tenant)
        except MessageInvalid as exc:
            return self._send_form(request, session, fields, exc.reason, 422)
        try:
            outcome = await self.sending.send(message)
        except LimitReached as exc:
            return self._send_form(request, session, fields, exc.reason, 429)
        base = request.scope.get("root_path", "")
        return RedirectResponse(f"{base}/messages/{outcome.message.id}?done=sent", 303)

    # -- outbox -------------------------------------------------------------------------------------------

    async def outbox(self, request: Request, session: dict[str, Any]) -> Response:
        if self._caller(request).tenant is not None:
            return self._error(request, 403, "The operator's page", "The outbox holds every receiver's calls: "
                               "it is for the gateway's operator. Each of your messages shows its own.", session)
        show_all = request.query_params.get("show") == "all"
        items = await self.reads.outbox_items(pending=None if show_all else True, limit=200,
                                             newest_first=show_all)
        return self.render(request, "outbox.html", {"items": items, "show_all": show_all}, session=session)


def _health(recent: list[dict[str, int]], oldest: str | None, now: datetime, total: int) -> tuple[str, str]:
    """(level, explanation) from the last two hours' outgoing outcomes and the age of the queue."""
    good = sum(h.get(s, 0) for h in recent for s in ("wired", "sent", "delivered", "read"))
    bad = sum(h.get(s, 0) for h in recent for s in ("errored", "failed"))
    waiting = (now - datetime.fromisoformat(oldest)).total_seconds() if oldest else 0.0
    if bad and not good:
        return "failing", f"{bad} send(s) errored or failed in the last 2 hours, none accepted"
    if waiting > 300:
        return "backlog", f"a message has waited {_ago(oldest, now)} to be sent"
    if bad and bad / (bad + good) >= 0.2:
        return "degraded", f"{bad} of {bad + good} sends in the last 2 hours errored or failed"
    if not total:
        return "idle", "no messages in the last 24 hours"
    return "ok", "sends are accepted" if good else "messages arrive"

