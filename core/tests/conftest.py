"""Shared fixtures for the core's own tests."""

from __future__ import annotations

import httpx
import pytest
from toy_adapter import Toy


@pytest.fixture
def toy(smsgate_harness):
    """A harness factory with one toy channel `t` (country RW) answering 200 'ext-1' by default."""

    def make(respond=None, **settings):
        return smsgate_harness({"t": {"adapter": "toy", "country": "RW", "max_retry_wait": 0, **settings}},
                               adapters=[Toy], respond=respond or (lambda r: httpx.Response(200, text="ext-1")))

    return make
