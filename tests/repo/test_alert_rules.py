"""The three alert rules docs/operations.md gives are valid Prometheus rules, and fire when they should: checked
and unit-tested by Prometheus' own `promtool` (Debian's `prometheus` package, installed by .ci/install-peers)
on synthetic series named as smsgate exports them. If promtool is missing, this fails: it never skips."""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROMTOOL = "/usr/bin/promtool"

pytestmark = pytest.mark.peers

TESTS = """
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  # kn's aggregator dies at minute 10 (two instances report the same link); ex blips down for one minute only;
  # tw was never probed (no series)
  - interval: 1m
    input_series:
      - series: 'smsgate_channel_up{channel="kn", instance="a"}'
        values: '1x9 0x20'
      - series: 'smsgate_channel_up{channel="kn", instance="b"}'
        values: '1x9 0x20'
      - series: 'smsgate_channel_up{channel="ex", instance="a"}'
        values: '1x9 0 1x19'
    alert_rule_test:
      - eval_time: 11m
        alertname: SmsgateChannelDown
        exp_alerts: []
      - eval_time: 20m
        alertname: SmsgateChannelDown
        exp_alerts:
          - exp_labels: {channel: kn, severity: page}
            exp_annotations:
              summary: "smsgate channel kn: aggregator unreachable"
              description: >-
                smsgate cannot reach the aggregator of kn; its messages wait. `smsgate status` and /ui/channels
                say since when and why.
  # kn: every send fails from the start; ex: every send is accepted; tw sends nothing at all
  - interval: 1m
    input_series:
      - series: 'smsgate_sends_total{channel="kn", outcome="failed", instance="a"}'
        values: '0+6x40'
      - series: 'smsgate_sends_total{channel="kn", outcome="accepted", instance="a"}'
        values: '0x40'
      - series: 'smsgate_sends_total{channel="ex", outcome="accepted", instance="a"}'
        values: '0+6x40'
      - series: 'smsgate_sends_total{channel="ex", outcome="failed", instance="a"}'
        values: '0x40'
      - series: 'smsgate_sends_total{channel="tw", outcome="accepted", instance="a"}'
        values: '0x40'
    alert_rule_test:
      - eval_time: 5m
        alertname: SmsgateChannelFailing
        exp_alerts: []
      - eval_time: 25m
        alertname: SmsgateChannelFailing
        exp_alerts:
          - exp_labels: {channel: kn, severity: page}
            exp_annotations:
              summary: "smsgate channel kn: most sends fail"
              description: >-
                More than half of the send attempts on kn errored, failed or are in doubt for 10 minutes.
                /ui/channels shows the channel's last error; /ui/messages?channel=kn&status=errored the messages.
  # kn's queue grows and its oldest message ages, seen by two instances; ex holds a steady, young queue
  - interval: 1m
    input_series:
      - series: 'smsgate_queue_depth{channel="kn", instance="a"}'
        values: '0+10x60'
      - series: 'smsgate_queue_depth{channel="kn", instance="b"}'
        values: '0+10x60'
      - series: 'smsgate_oldest_queued_seconds{channel="kn", instance="a"}'
        values: '0+60x60'
      - series: 'smsgate_oldest_queued_seconds{channel="kn", instance="b"}'
        values: '0+60x60'
      - series: 'smsgate_queue_depth{channel="ex", instance="a"}'
        values: '50x60'
      - series: 'smsgate_oldest_queued_seconds{channel="ex", instance="a"}'
        values: '30x60'
    alert_rule_test:
      - eval_time: 15m
        alertname: SmsgateQueueGrowing
        exp_alerts: []
      - eval_time: 40m
        alertname: SmsgateQueueGrowing
        exp_alerts:
          - exp_labels: {channel: kn, severity: warn}
            exp_annotations:
              summary: "smsgate channel kn: queue growing"
              description: >-
                The oldest message waiting on kn is 40m 0s old and the queue has grown for 15 minutes.
"""


def rules_from_docs() -> str:
    docs = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", docs, re.S) if b.startswith("groups:")]
    assert len(blocks) == 1, "docs/operations.md should hold exactly one block of alert rules"
    return blocks[0]


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_documented_alert_rules_are_valid_and_fire_when_they_should(tmp_path):
    (tmp_path / "rules.yml").write_text(rules_from_docs())
    (tmp_path / "tests.yml").write_text(textwrap.dedent(TESTS))
    checked = promtool("check", "rules", "rules.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 3 rules found" in checked.stdout
    tested = promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_rules_use_only_metrics_smsgate_exports():
    documented = set(re.findall(r"^\| `(smsgate_\w+)`", (ROOT / "docs" / "operations.md").read_text(), re.M))
    used = set(re.findall(r"\bsmsgate_\w+", rules_from_docs()))
    assert used and used <= documented, used - documented
