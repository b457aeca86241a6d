"""A pytest plugin for adapter authors (registered through the `pytest11` entry point).

Fixtures: `smsgate_harness` builds a gateway for a channel config with a fake aggregator, drives inbound
requests through the real ASGI app and sends through the real pipeline, on the database `smsgate_database`
names (a SQLite file; override that fixture to run the same tests on PostgreSQL); `smsgate_register` registers a
plugin for one test; `vcr_config` (and every cassette's defaults, `vcr_defaults()`) filters secrets from
cassettes. Helpers: `InboundCase` / `OutboundCase`
tables with `run_inbound_case` / `run_outbound_case`, `assert_no_secrets`, and `RecordingTransport` for
cassette tests that inspect what was really exchanged.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import urllib.parse
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from ._adapter import Adapter
from ._models import MessageRecord, OutgoingMessage
from .config._settings import Config, config_from_dict
from .gateway import SendWorker, open_gateway, open_outbox, open_worker
from .gateway._gateway import SendOutcome
from .platform._outbox import OutboxDispatcher
from .plugins import installed_adapters
from .store import Store, open_store
from .web import create_app

__all__ = [
    "ExpectedRequest",
    "Harness",
    "InboundCase",
    "OutboundCase",
    "RecordingTransport",
    "assert_no_secrets",
    "run_inbound_case",
    "run_outbound_case",
    "vcr_defaults",
]

T = TypeVar("T")
Responder = Callable[[httpx.Request], httpx.Response]


class RecordingTransport(httpx.AsyncBaseTransport):
    """httpx's real transport (which vcrpy records or replays), keeping each request with its read response."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send through the real transport and keep the exchange."""
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.exchanges.append((request, response))
        return response

    async def aclose(self) -> None:
        """Close the real transport."""
        await self.inner.aclose()


class Harness:
    """A gateway on a temporary database (a SQLite file unless the config names another), its ASGI app, and a
    recording fake aggregator.

    Synchronous on purpose, so adapter tests need no async test plugin: every call runs on the harness's
    own event loop. `requests` lists what the adapters sent; `respond` decides the fake aggregator's answer.
    """

    def __init__(self, config: Config, *, transport: httpx.AsyncBaseTransport | None = None,
                 respond: Responder | None = None, pm: Any = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.requests: list[httpx.Request] = []
        self.respond: Responder = respond or (lambda request: httpx.Response(200, text="ok"))
        if transport is None:
            transport = httpx.MockTransport(self._record)
        self.config = config
        self.store: Store = open_store(config.gateway.database, synchronous="NORMAL", migrate=True)
        self.gateway = open_gateway(config, store=self.store, transport=transport, pm=pm)
        self.app = create_app(self.gateway)
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver")

    def _record(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.respond(request)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the harness loop."""
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        """Close the gateway, its store and the loop."""
        self.run(self._client.aclose())
        self.run(self.gateway.close())
        self.loop.close()

    # -- driving the gateway ------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An HTTP request to the gateway's ASGI app (e.g. `("POST", "/c/ex/receive", data={...})`)."""
        return self.run(self._client.request(method, path, **kwargs))

    def send(self, channel: str | None, to: str, text: str, **fields: Any) -> SendOutcome:
        """Send through the real pipeline (normalisation, store, adapter, retries, channel log); `channel` None
        routes by `to` ([[routes]]), failing over as a routed message does."""

        async def go() -> SendOutcome:
            message = await self.gateway.prepare(channel, to, text, **fields)
            return await self.gateway.send(message)

        return self.run(go())

    def send_message(self, message: OutgoingMessage) -> SendOutcome:
        """Send an already-built message (no number normalisation)."""
        return self.run(self.gateway.send(message))

    def messages(self, **filters: Any) -> list[MessageRecord]:
        """Stored messages, newest first."""
        return self.run(self.store.list_messages(**filters))

    def message(self, message_id: str) -> MessageRecord | None:
        """One stored message with its history."""
        return self.run(self.store.get_message(message_id))

    def logs(self, **filters: Any) -> list[dict[str, Any]]:
        """Stored channel logs, newest first."""
        return self.run(self.store.list_logs(**filters))

    def outbox(self, **options: Any) -> OutboxDispatcher:
        """This gateway's outbox dispatcher (webhooks and bridge calls); `options` override its timings."""
        return open_outbox(self.gateway, **options)

    def worker(self, **options: Any) -> SendWorker:
        """This gateway's send worker; `options` override its settings (attempts, backoff, poll interval)."""
        return open_worker(self.gateway, **options)

    def opt_outs(self, **filters: Any) -> list[dict[str, Any]]:
        """Stored opt-out events."""
        return self.run(self.store.opt_outs(**filters))


def _make_config(tmp: Path, channels: dict[str, dict[str, Any]], gateway: dict[str, Any] | None,
                 adapters: Iterable[type[Adapter[Any]]] | None, bridges: dict[str, dict[str, Any]] | None = None,
                 database: str | None = None, routes: list[dict[str, Any]] | None = None,
                 tenants: dict[str, dict[str, Any]] | None = None) -> Config:
    registry = installed_adapters() if adapters is None else {cls.name: cls for cls in adapters}
    gw = {"database": database or str(tmp / "smsgate.sqlite3"), "public_url": "https://gateway.example",
          **(gateway or {})}
    return config_from_dict({"gateway": gw, "channels": channels, "bridges": bridges or {}, "routes": routes or [],
                             "tenants": tenants or {}}, registry)


@pytest.fixture
def smsgate_database() -> Callable[[Path], str]:
    """Names a fresh database for a harness, given its folder: a SQLite file there. Override it (e.g. with
    params) to run harness tests on another backend: return a `postgresql://` URL of an empty database."""
    return lambda folder: str(folder / "smsgate.sqlite3")


@pytest.fixture
def smsgate_harness(tmp_path: Path, smsgate_database: Callable[[Path], str]) -> Iterator[Callable[..., Harness]]:
    """A factory: `smsgate_harness(channels={...}, gateway={...}, adapters=[Cls], bridges={...}, routes=[...],
    tenants={...}, respond=fn)`."""
    made: list[Harness] = []
    counter = itertools.count()

    def factory(channels: dict[str, dict[str, Any]], *, gateway: dict[str, Any] | None = None,
                adapters: Iterable[type[Adapter[Any]]] | None = None, bridges: dict[str, dict[str, Any]] | None = None,
                routes: list[dict[str, Any]] | None = None, tenants: dict[str, dict[str, Any]] | None = None,
                **kwargs: Any) -> Harness:
        folder = tmp_path / f"gw{next(counter)}"
        database = None if gateway and "database" in gateway else smsgate_database(folder)
        config = _make_config(folder, channels, gateway, adapters, bridges, database, routes,
                              tenants)  # validate first
        folder.mkdir(exist_ok=True)
        harness = Harness(config, **kwargs)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.close()


@pytest.fixture
def smsgate_register() -> Iterator[Callable[[object, str], None]]:
    """Register a plugin object (a module or a class with `@hookimpl` methods) for this test only."""
    from .plugins import pm

    names: list[str] = []

    def register(plugin: object, name: str) -> None:
        pm.register(plugin, name=name)
        names.append(name)

    yield register
    for name in names:
        pm.unregister(name=name)


SECRET_QUERY = ["username", "password", "user", "pass", "pwd", "auth_token", "token", "api_key", "apikey", "secret"]


_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_FAKE_SID = "AC" + "0" * 32


def _filter_path(request: Any) -> Any:
    # a Twilio account SID sits in the URL path: keep it masked in every recorded URI
    request.uri = _SID.sub(_FAKE_SID, request.uri)
    return request


def _filter_response(response: dict[str, Any]) -> dict[str, Any]:
    # Twilio-style answers echo the account SID (`account_sid`, `uri`) in their bodies
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes):
        response["body"]["string"] = _SID.sub(_FAKE_SID, body.decode("utf-8", "replace")).encode()
    elif isinstance(body, str):
        response["body"]["string"] = _SID.sub(_FAKE_SID, body)
    return response


def vcr_defaults() -> dict[str, Any]:
    """The kit's cassette settings: credentials kept out of cassettes, POST bodies matched."""
    return {
        "filter_headers": [("authorization", "REDACTED"), ("x-twilio-signature", "REDACTED"), ("cookie", None)],
        "filter_query_parameters": [(p, "REDACTED") for p in SECRET_QUERY],
        "filter_post_data_parameters": [(p, "REDACTED") for p in SECRET_QUERY],
        "before_record_request": _filter_path,
        "before_record_response": _filter_response,
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
        "decode_compressed_response": True,
    }


@pytest.hookimpl(optionalhook=True)
def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """Make `vcr_defaults()` every cassette's defaults, whichever plugin's `vcr_config` fixture pytest picks."""
    # pytest-recording's own `vcr_config` ({}) and this kit's are both plugin fixtures, and which one shadows
    # the other depends on plugin load order; defaults set on the VCR object hold either way, and a test
    # module's own `vcr_config` still overrides them key by key
    for key, value in vcr_defaults().items():
        setattr(vcr, key, value)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """pytest-recording settings: `vcr_defaults()`; override in a test module with `{**vcr_defaults(), ...}`."""
    return vcr_defaults()


# -- table-driven conformance ---------------------------------------------------------------------


@dataclass
class InboundCase:
    """One inbound request and what the gateway must answer and store."""

    label: str
    path: str
    method: str = "POST"
    data: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    json: Any = None
    body: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    contains: Iterable[str] = ()
    messages: list[dict[str, Any]] | None = None
    statuses: dict[str, str] | None = None
    opt_outs: list[str] | None = None


def _subset(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(actual.get(k) == v for k, v in expected.items())


def run_inbound_case(harness: Harness, case: InboundCase) -> httpx.Response:
    """Drive `case` through the ASGI app and assert the status, body substrings and what was stored."""
    before = {m.id for m in harness.messages(direction="in", limit=10_000)}
    kwargs: dict[str, Any] = {"headers": case.headers}
    if case.data is not None:
        kwargs["data"] = case.data
    if case.params is not None:
        kwargs["params"] = case.params
    if case.json is not None:
        kwargs["json"] = case.json
    if case.body is not None:
        kwargs["content"] = case.body
    response = harness.request(case.method, case.path, **kwargs)
    assert response.status_code == case.status, f"{case.label}: {response.status_code} {response.text}"
    for fragment in [case.contains] if isinstance(case.contains, str) else case.contains:
        assert fragment in response.text, f"{case.label}: {fragment!r} not in {response.text!r}"
    if case.status >= 400:
        assert response.text, f"{case.label}: a rejection must say why"
    if case.messages is not None:
        new = [m.as_dict() for m in harness.messages(direction="in", limit=10_000) if m.id not in before]
        assert len(new) == len(case.messages), f"{case.label}: stored {new}"
        for got, want in zip(sorted(new, key=lambda m: m["created_at"]), case.messages, strict=True):
            flat = {**got, **{k: v for k, v in got["metadata"].items() if k == "received_at"}}
            assert _subset(flat, want), f"{case.label}: stored {got}, expected {want}"
    if case.statuses is not None:
        for message_id, status in case.statuses.items():
            stored = harness.message(message_id)
            assert stored is not None and stored.status == status, f"{case.label}: {message_id} is {stored}"
    if case.opt_outs is not None:
        assert [o["address"] for o in harness.opt_outs()] == case.opt_outs, f"{case.label}: opt-outs"
    return response


@dataclass
class ExpectedRequest:
    """What one outgoing HTTP request must carry; only the given parts are checked."""

    method: str | None = None
    url: str | None = None
    path: str | None = None
    params: dict[str, Any] | None = None
    form: dict[str, Any] | None = None
    json: Any = None
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def check(self, request: httpx.Request, label: str) -> None:
        """Assert `request` matches."""
        if self.method is not None:
            assert request.method == self.method, f"{label}: method {request.method}"
        if self.url is not None:
            assert str(request.url) == self.url, f"{label}: url {request.url}"
        if self.path is not None:
            assert request.url.path == self.path, f"{label}: path {request.url.path}"
        if self.params is not None:
            got = _multi(urllib.parse.parse_qsl(request.url.query.decode(), keep_blank_values=True))
            assert got == self.params, f"{label}: params {got}"
        if self.form is not None:
            got = _multi(urllib.parse.parse_qsl(request.content.decode(), keep_blank_values=True))
            assert got == self.form, f"{label}: form {got}"
        if self.json is not None:
            assert json.loads(request.content) == self.json, f"{label}: json {request.content!r}"
        if self.body is not None:
            assert request.content.decode() == self.body, f"{label}: body {request.content!r}"
        for key, value in self.headers.items():
            assert request.headers.get(key) == value, f"{label}: header {key}={request.headers.get(key)!r}"


def _multi(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            out[key] = [*out[key], value] if isinstance(out[key], list) else [out[key], value]
        else:
            out[key] = value
    return out


@dataclass
class OutboundCase:
    """One send through a channel: the fake aggregator's answers and what must be sent and stored."""

    label: str
    text: str
    to: str = "+250788383383"
    attachments: list[str] = field(default_factory=list)
    quick_replies: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    responses: list[tuple[int, str] | tuple[int, str, dict[str, str]]] = field(default_factory=lambda: [(200, "")])
    status: str = "wired"
    requests: list[ExpectedRequest] | None = None
    error_code: str | None = None
    external_ids: list[str] | None = None
    opt_outs: list[str] | None = None
    message_id: str = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"


def run_outbound_case(factory: Callable[..., Harness], adapter: str, base: dict[str, Any], case: OutboundCase,
                      *, channel: str = "test", **harness_kwargs: Any) -> SendOutcome:
    """Build a harness for `base` + `case.settings`, send `case`, and assert requests, status and log."""
    answers = list(case.responses)

    def respond(request: httpx.Request) -> httpx.Response:
        status, body, *rest = answers.pop(0) if len(answers) > 1 else answers[0]
        return httpx.Response(status, text=body, headers=rest[0] if rest else None)

    harness = factory({channel: {"adapter": adapter, "max_retry_wait": 0, **base, **case.settings}},
                      respond=respond, **harness_kwargs)
    outcome = harness.send(channel, case.to, case.text, id=case.message_id, attachments=case.attachments,
                           quick_replies=case.quick_replies)
    assert outcome.message.status == case.status, (
        f"{case.label}: status {outcome.message.status} ({outcome.message.error_code}: "
        f"{outcome.message.error_reason})")
    if case.requests is not None:
        assert len(harness.requests) == len(case.requests), (
            f"{case.label}: {len(harness.requests)} requests: {[str(r.url) for r in harness.requests]}")
        for request, expected in zip(harness.requests, case.requests, strict=True):
            expected.check(request, case.label)
    if case.error_code is not None:
        assert outcome.message.error_code == case.error_code, f"{case.label}: error {outcome.message.error_code}"
    if case.external_ids is not None:
        assert outcome.message.external_ids == case.external_ids, f"{case.label}: {outcome.message.external_ids}"
    if case.opt_outs is not None:
        assert [o["address"] for o in harness.opt_outs()] == case.opt_outs, f"{case.label}: opt-outs"
    logs = harness.logs(message_id=case.message_id)
    assert logs, f"{case.label}: the send left no channel log"
    assert_no_secrets(harness, harness.gateway.adapters[channel].secrets())
    return outcome


def assert_no_secrets(harness: Harness | None, secrets: Iterable[str], *paths: Path | str,
                      texts: Iterable[str] = ()) -> None:
    """Fail if any secret appears in the harness's logs and messages, in the files under `paths`, or in `texts`."""
    values = [s for s in secrets if s]
    haystacks: list[tuple[str, str]] = [("text", t) for t in texts]
    if harness is not None:
        haystacks.append(("channel logs", json.dumps(harness.logs(limit=100_000), ensure_ascii=False)))
        haystacks.append(("messages", json.dumps([m.as_dict() for m in harness.messages(limit=100_000)],
                                                 ensure_ascii=False)))
    for path in paths:
        root = Path(path)
        for file in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
            haystacks.append((str(file), file.read_text(encoding="utf-8", errors="replace")))
    for where, text in haystacks:
        for secret in values:
            for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}:
                assert form not in text, f"a secret ({secret[:2]}…) appears in {where}"
