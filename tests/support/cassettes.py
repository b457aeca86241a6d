"""The cassette tests every catalogue adapter runs against its stand-in: subclass `StandInCassettes`.

    from tests.support.cassettes import StandInCassettes

    class TestVonageCassettes(StandInCassettes):
        name = "vonage"                      # cassettes/vonage/, `Server: smsgate-standin-vonage`
        script = HERE / "vonage_standin.py"
        adapter, channel, cases, secrets = VonageAdapter, {...}, CASES, [KEY, SECRET]
        filter_post_data = ("api_secret",)   # beyond the kit's `vcr_defaults()`

        def check(self, harness, case): ...  # the adapter's own assertions, after `run_send_case`'s

Its tests: `test_recorded` replays each case from `cassettes/<name>/test_recorded[<case id>].yaml` (recorded
against the stand-in when `--record-mode` is other than none; `scripts/record-cassettes <name>`),
`test_cassettes_are_complete_and_clean` (one cassette per case, none stale, no secret, each from the stand-in),
and `test_live` (marker `peers`) sends every case to a freshly started stand-in. Cases are `SendCase`s sent by
`run_send_case`; an adapter whose cases have another shape overrides `send` instead of `check`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from smsgate.testing import assert_no_secrets, vcr_defaults

from .peers.process import REPO_ROOT
from .standin import SendCase, StandIn, recording_url, run_send_case

__all__ = ["StandInCassettes"]

MESSAGE_ID = "10a46fa0-8e4c-4b2b-9ee1-b8e1b2c8b7d1"
"""The message id cases are sent with unless a subclass names another: fixed, so recordings are stable."""


def _redacted(names: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(n, "REDACTED") for n in names]


class StandInCassettes:
    """Recorded, complete-and-clean and live tests of one adapter against its stand-in; set the attributes."""

    name: ClassVar[str]
    """The adapter's name: its cassettes' folder and its stand-in's server name."""
    script: ClassVar[Path]
    """The adapter's stand-in script (`tests/<name>_standin.py`)."""
    adapter: ClassVar[type]
    """The adapter class under test."""
    channel: ClassVar[dict[str, Any]]
    """The channel keys every case starts from (a case's `settings` override them)."""
    cases: ClassVar[list[Any]]
    """The sends, each with an `id` naming its cassette."""
    secrets: ClassVar[list[str]]
    """What no log and no cassette may hold."""
    message_id: ClassVar[str] = MESSAGE_ID
    """The id each case's message is sent with."""
    path: ClassVar[str] = ""
    """Appended to the stand-in's URL to make the URL the adapter is given (jasmin's `/send`)."""
    filter_headers: ClassVar[tuple[str, ...]] = ()
    """Request headers redacted from cassettes beyond the kit's."""
    filter_query: ClassVar[tuple[str, ...]] = ()
    """Query parameters redacted from cassettes beyond the kit's."""
    filter_post_data: ClassVar[tuple[str, ...]] = ()
    """Form parameters redacted from cassettes beyond the kit's."""
    cassettes_say: ClassVar[tuple[str, ...]] = ()
    """What every cassette must contain beyond the stand-in's server name (a redaction, say)."""
    cassettes_never_say: ClassVar[tuple[str, ...]] = ()
    """What no cassette may contain beyond the secrets (an auth scheme's name, say)."""

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrize every test taking `case` over `cases`, ids as the cassettes are named."""
        if "case" in metafunc.fixturenames:
            metafunc.parametrize("case", self.cases, ids=[c.id for c in self.cases])

    def send(self, factory: Any, case: Any, url: str) -> Any:
        """Send `case` to the stand-in at `url` and check it; returns the harness. Override for other case shapes."""
        assert isinstance(case, SendCase), "override `send` for cases that are not SendCase"
        harness = run_send_case(factory, self.adapter, self.channel, case, url, self.secrets, self.message_id)
        self.check(harness, case)
        return harness

    def check(self, harness: Any, case: Any) -> None:
        """Override: the adapter's own assertions on a sent case, beyond what `run_send_case` checks."""

    @classmethod
    def cassette_dir(cls) -> Path:
        """Where this adapter's cassettes live: cassettes/<name>/."""
        return REPO_ROOT / "cassettes" / cls.name

    @pytest.fixture(scope="class")
    @classmethod
    def vcr_cassette_dir(cls) -> str:
        """Every cassette of the adapter lives in cassettes/<name>/."""
        return str(cls.cassette_dir())

    @pytest.fixture
    def default_cassette_name(self, request: pytest.FixtureRequest) -> str:
        """`test_recorded[<case id>]`, without pytest-recording's class prefix, as the cassettes were named."""
        return str(request.node.name)

    @pytest.fixture
    def vcr_config(self) -> dict[str, Any]:
        """The kit's filters plus the adapter's, matching without the port (the stand-in takes a free one)."""
        defaults = vcr_defaults()
        return {**defaults, "match_on": [m for m in defaults["match_on"] if m != "port"],
                "filter_headers": [*defaults["filter_headers"], *_redacted(self.filter_headers)],
                "filter_query_parameters": [*defaults["filter_query_parameters"], *_redacted(self.filter_query)],
                "filter_post_data_parameters": [*defaults["filter_post_data_parameters"],
                                                *_redacted(self.filter_post_data)]}

    @pytest.fixture(scope="class")
    @classmethod
    def recording(cls, record_mode: str) -> Iterator[str]:
        """The stand-in while recording, a URL never contacted while replaying."""
        for url in recording_url(record_mode, cls.script):
            yield url + cls.path

    @pytest.mark.vcr
    def test_recorded(self, smsgate_harness: Any, recording: str, case: Any) -> None:
        """Each case replayed from its cassette (or recorded against the stand-in)."""
        self.send(smsgate_harness, case, recording)

    def test_cassettes_are_complete_and_clean(self) -> None:
        """One cassette per case and no other, none holding a secret, each recorded from our stand-in."""
        folder = self.cassette_dir()
        names = sorted(p.name for p in folder.glob("*.yaml"))
        assert names == sorted(f"test_recorded[{c.id}].yaml" for c in self.cases)  # none missing, none stale
        assert_no_secrets(None, self.secrets, folder)
        for path in folder.glob("*.yaml"):
            text = path.read_text()
            assert f"smsgate-standin-{self.name}" in text, f"{path.name} must say it came from our stand-in"
            assert all(s in text for s in self.cassettes_say), (path.name, self.cassettes_say)
            assert not any(s in text for s in self.cassettes_never_say), (path.name, self.cassettes_never_say)

    @pytest.fixture(scope="class")
    @classmethod
    def live(cls) -> Iterator[StandIn]:
        """A freshly started stand-in for the live run."""
        with StandIn(cls.script) as standin:
            yield standin

    @pytest.mark.peers
    def test_live(self, smsgate_harness: Any, live: StandIn, case: Any) -> None:
        """Each case against the freshly started stand-in."""
        self.send(smsgate_harness, case, live.url + self.path)
