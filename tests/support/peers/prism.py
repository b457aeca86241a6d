"""Stoplight Prism serving Twilio's Messages contract: the twilio adapter's contract tests."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Sequence
from pathlib import Path

from .process import LOOPBACK, REPO_ROOT, Peer, PeerStartError, free_port, http_get

__all__ = ["PRISM_BIN", "TWILIO_SPEC", "Prism", "media_variant_spec"]


# Twilio's Messages contract, vendored with its source and licence (adapters/twilio/contract/README.md)
TWILIO_SPEC = REPO_ROOT / "adapters" / "twilio" / "contract" / "twilio_api_v2010_messages.json"
PRISM_BIN = REPO_ROOT / "tools" / "prism" / "node_modules" / ".bin" / "prism"


def media_variant_spec(dest_dir: str | Path, spec_path: str | Path | None = None) -> Path:
    """Write a copy of the Twilio spec whose create-message form body declares
    ``encoding: {MediaUrl: {style: form, explode: true}}``.

    Prism 5 rejects Twilio's real wire form for media (``MediaUrl=a&MediaUrl=b``,
    or a single ``MediaUrl=``) with 422 "must be array" under the original
    spec. With the declared encoding it accepts them (it then validates only
    the last value). Label cassettes recorded against this variant as such.
    """
    src = Path(spec_path) if spec_path else TWILIO_SPEC
    spec = json.loads(src.read_text())
    variant = copy.deepcopy(spec)
    changed = 0
    for path, item in variant.get("paths", {}).items():
        if not path.endswith("/Messages.json"):
            continue
        post = item.get("post")
        if not post:
            continue
        media = post.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
        if media and "MediaUrl" in media.get("schema", {}).get("properties", {}):
            media.setdefault("encoding", {})["MediaUrl"] = {"style": "form", "explode": True}
            changed += 1
    if not changed:
        raise RuntimeError(f"media_variant_spec: no form MediaUrl property found in {src}")
    info = variant.setdefault("info", {})
    info["description"] = (
        "LOCAL TEST VARIANT (tests/support/peers media_variant_spec): declares form encoding "
        "style=form, explode=true for MediaUrl so repeated MediaUrl keys validate in Prism. "
        + str(info.get("description", ""))
    )
    dest = Path(dest_dir) / "twilio_api_v2010_messages.media_variant.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(variant, indent=1))
    return dest


class Prism(Peer):
    """Stoplight Prism mock of an OpenAPI spec on 127.0.0.1.

    Runs ``tools/prism/node_modules/.bin/prism mock <spec> -h 127.0.0.1 -p N``
    directly (never via npx) in its own process group, and kills that group.
    Ready when ``GET /`` gets any HTTP answer (404 once up).
    """

    name = "prism"

    def __init__(
        self,
        spec_path: str | Path | None = None,
        port: int | None = None,
        *,
        prism_bin: str | Path | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 30.0,
        workdir: str | Path | None = None,
        keep_workdir: bool = False,
    ) -> None:
        super().__init__(startup_timeout=startup_timeout, workdir=workdir, keep_workdir=keep_workdir)
        self.spec_path = Path(spec_path) if spec_path else TWILIO_SPEC
        self.prism_bin = Path(prism_bin) if prism_bin else PRISM_BIN
        self.extra_args = list(extra_args)
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"

    def _start(self) -> None:
        if not self.prism_bin.exists():
            raise PeerStartError(f"Prism: {self.prism_bin} not found; run .ci/install-peers")
        if not self.spec_path.exists():
            raise PeerStartError(f"Prism: spec {self.spec_path} not found")
        deadline = time.monotonic() + self.startup_timeout
        self._spawn(
            "prism",
            [str(self.prism_bin), "mock", str(self.spec_path), "-h", LOOPBACK, "-p", str(self.port), *self.extra_args],
            cwd=self.workdir,
            new_session=True,
        )

        def answers() -> bool:
            http_get(self.url + "/", 1.0)  # any HTTP status means Prism is serving
            return True

        self._wait("prism HTTP answer on /", answers, deadline, interval=0.1)
