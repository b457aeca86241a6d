"""The README's one-machine recipe, run as written: its kannel-test.conf and smsgate.toml, with bearerbox,
fakesmsc, smsbox and `smsgate serve` (real processes), on free ports instead of the recipe's fixed ones.

A send reaches the fake SMSC and ends `delivered` by its report; a line typed into fakesmsc is stored as an
incoming message. The commands the README prints for what happens are the ones run here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.peers import Kannel, free_port
from tests.support.served import Served

pytestmark = pytest.mark.peers

README = Path(__file__).resolve().parents[1] / "README.md"
CLI = Path(sys.executable).with_name("smsgate")
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}


def recipe_block(first_line: str) -> str:
    """The README code block whose first line is `first_line` (the recipe's files name themselves there)."""
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", README.read_text(), flags=re.M | re.S):
        if block.startswith(first_line):
            return str(block)
    raise AssertionError(f"README.md has no block starting {first_line!r}")


class RecipeKannel(Kannel):
    """The peer's bearerbox, fakesmsc and smsbox, run on the README's kannel-test.conf (its ports made free)."""

    recipe = ""

    def config_text(self) -> str:
        ports = {"13000": self.admin_port, "13001": self.smsbox_port, "10000": self.smsc_port,
                 "13013": self.sendsms_port}
        return re.sub(r"\b(13000|13001|10000|13013)\b", lambda m: str(ports[m.group(1)]), self.recipe)


def test_the_readme_recipe_sends_delivers_and_receives(tmp_path):
    conf = recipe_block("# kannel-test.conf")
    toml = recipe_block("# smsgate.toml for kannel-test.conf")
    admin = re.search(r'admin-password = "([^"]+)"', conf).group(1)  # type: ignore[union-attr]
    password = re.search(r'^password = "([^"]+)"', conf, re.M).group(1)  # type: ignore[union-attr]
    kannel = RecipeKannel(password=password, admin_password=admin)
    kannel.smsc_id = re.search(r"^smsc-id = (\S+)", conf, re.M).group(1)  # type: ignore[union-attr]
    port = free_port()
    kannel.recipe = conf.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    config = tmp_path / "smsgate.toml"
    text = toml.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace("127.0.0.1:13013",
                                                                       f"127.0.0.1:{kannel.sendsms_port}")
    config.write_text(text.replace("[gateway]\n", f'[gateway]\nport = {port}\n'
                                                  f'database = "{tmp_path / "smsgate.sqlite3"}"\n', 1))
    served = Served(config, port, tmp_path / "serve.log")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(CLI), "--config", str(config), *args], capture_output=True, text=True, timeout=60,
                              env=CLEAN_ENV)

    with kannel:
        served.start()
        try:
            sent = cli("send", "--channel", "kn", "--to", "0788123123", "hello", "--json")
            assert sent.returncode == 0, sent.stderr
            message_id = json.loads(sent.stdout)["id"]
            mt = kannel.wait_for_mt(lambda m: m["text"] == "hello", timeout=20)
            assert (mt["from"], mt["to"]) == ("2020", "+250788123123")  # as the README prints it
            assert f"Got message {mt['n']}: <2020 +250788123123 text hello>" in kannel.fakesmsc_out.read_text()
            status = _until(lambda: json.loads(cli("show", message_id, "--json").stdout)["status"],
                            lambda s: s == "delivered")
            assert status == "delivered"
            kannel.send_mo("+250788123123", "2020", "hi there")  # the line the README has you type
            received = _until(lambda: json.loads(cli("messages", "--direction", "in", "--json").stdout)["messages"],
                              lambda found: bool(found))
            assert [(m["from"], m["to"], m["text"]) for m in received] == [("+250788123123", "2020", "hi there")]
        finally:
            served.stop()


def _until(read, done, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)
