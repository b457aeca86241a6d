"""In a fresh venv holding only core, the CLI and smsgate-bandwidth (built as wheels), `smsgate adapters` lists only
`bandwidth`, and `smsgate send` through it reaches the local stand-in with the request Bandwidth documents.

The third-party dependencies come from the suite's venv (its locked versions, offline) through a folder of links
that leaves out every smsgate distribution, so the only smsgate code the new venv sees is the three wheels.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from smsgate.text import segment

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE))

from bandwidth_standin import BandwidthStandIn  # noqa: E402

ENV = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
MESSAGE_ID = "0c6f3c3e-5d7a-4e1b-9a53-5b0e5f6c7d81"


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, env=ENV, cwd=cwd)


def dependencies_only(folder: Path) -> Path:
    """Links to everything in the suite's site-packages except smsgate's own distributions and editable paths."""
    folder.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if "smsgate" not in entry.name.lower():
            (folder / entry.name).symlink_to(entry)
    return folder


def test_core_cli_and_bandwidth_alone(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels,
                ROOT / "core", ROOT / "cli", ROOT / "adapters" / "bandwidth")
    assert built.returncode == 0, built.stderr[-3000:]
    assert sorted(w.name.split("-")[0] for w in wheels.glob("*.whl")) == ["smsgate", "smsgate_bandwidth",
                                                                          "smsgate_cli"]
    venv.create(tmp_path / "venv", with_pip=False)
    bin_dir = tmp_path / "venv" / "bin"
    site = run(bin_dir / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    deps = dependencies_only(tmp_path / "deps")
    Path(site, "dependencies.pth").write_text(f"import site; site.addsitedir({str(deps)!r})\n")
    installed = run(sys.executable, "-m", "pip", "--python", bin_dir / "python", "install", "-q", "--no-deps",
                    "--no-index", *sorted(wheels.glob("*.whl")))
    assert installed.returncode == 0, installed.stderr[-3000:]
    found = run(bin_dir / "python", "-c", "import importlib.metadata as m; print(sorted(d.metadata['Name'] for d in "
                "m.distributions() if d.metadata['Name'].startswith('smsgate')))")
    assert found.stdout.strip() == "['smsgate', 'smsgate-bandwidth', 'smsgate-cli']", found.stdout + found.stderr

    listed = run(bin_dir / "smsgate", "adapters", "--json")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert [(a["name"], a["distribution"]) for a in data["adapters"]] == [("bandwidth", "smsgate-bandwidth")]
    assert data["failed"] == []

    with BandwidthStandIn("9900001", "api-user", "bw-api-password-0123", "app-1") as standin:
        config = tmp_path / "smsgate.toml"
        config.write_text(
            f'[gateway]\ndatabase = "{tmp_path / "smsgate.sqlite3"}"\npublic_url = "https://gw.example"\n\n'
            f'[channels.bw]\nadapter = "bandwidth"\naddress = "+12065550100"\ncountry = "US"\n'
            f'username = "api-user"\npassword = "bw-api-password-0123"\naccount_id = "9900001"\n'
            f'messaging_application_id = "app-1"\nbase_url = "{standin.url}"\n')
        sent = run(bin_dir / "smsgate", "--config", config, "send", "--channel", "bw", "--to", "2067791234",
                   "--id", MESSAGE_ID, "Привет from a venv of three", cwd=tmp_path)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert sent.stdout.startswith("wired"), sent.stdout
        [request] = standin.requests
    assert (request.method, request.path) == ("POST", "/api/v2/users/9900001/messages")
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"api-user:bw-api-password-0123").decode()
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.body) == {"applicationId": "app-1", "to": ["+12067791234"], "from": "+12065550100",
                                        "text": "Привет from a venv of three", "tag": MESSAGE_ID}
    assert segment("Привет from a venv of three").count == 1
