"""Progressive delivery as a person runs it: `python -m local_mode --traffic FILE --step-seconds 1` in a
child process (Slack app mode, all embedded), the CLI as the banner prints it, signed Slack clicks; a
good candidate promoted and baked after two approvals, a bad one aborted at 5 %."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local_mode.service import DEMO_CHANNEL, DEMO_SIGNING_SECRET
from local_mode.slack_click import LOCAL_APPROVER, click_body
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("prompt-rollback")  # what the banner prints
STRANGER = "U0STRANGER"
# support-answer v8 is better than v7; refund-answer v2 errs ten times as often as v1.
TRAFFIC = """
seed: 19
prompts:
  support-answer:
    requests_per_second: 20
    units: 5000
    versions:
      "7": {exact_match: 0.90, error_rate: 0.005, latency_ms: 800}
      "8": {exact_match: 0.93, error_rate: 0.002, latency_ms: 760, prompt: "Answer kindly: {{question}}"}
  refund-answer:
    requests_per_second: 20
    units: 5000
    versions:
      "1": {exact_match: 0.90, error_rate: 0.005, latency_ms: 800, prompt: "Explain the refund: {{case}}"}
      "2": {exact_match: 0.85, error_rate: 0.05, latency_ms: 900, prompt: "Refund, briefly: {{case}}"}
"""


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


@dataclass
class LocalMode:
    process: subprocess.Popen[str]
    log: Path
    port: int

    def output(self) -> str:
        return self.log.read_text()

    def shows(self, text: str, timeout: float = 30) -> None:
        def shown() -> bool:
            assert self.process.poll() is None, self.output()[-4000:]
            return text in self.output()

        try:
            wait_for(repr(text), shown, timeout=timeout, interval=0.2)
        except AssertionError:
            raise AssertionError(
                f"{text!r} not shown; local mode printed:\n{self.output()[-6000:]}"
            ) from None

    def exported(self) -> dict[str, str]:
        """The banner's `export` line, as a shell that pasted it would hold."""
        banner = self.output()
        line = re.sub(r"\\\n\s*", " ", banner[banner.index("  export ") :]).splitlines()[0]
        return dict(word.split("=", 1) for word in shlex.split(line)[1:])


@pytest.fixture
def local_mode(tmp_path: Path) -> Iterator[LocalMode]:
    traffic = tmp_path / "traffic.yaml"
    traffic.write_text(TRAFFIC)
    port, aws_port = _free_port(), _free_port()
    log = tmp_path / "local-mode.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LANGFUSE_", "SLACK_"))}
    env.update({"PYTHONUNBUFFERED": "1", "SLACK_BOT_TOKEN": "xoxb-local"})
    arguments = [
        "--port",
        str(port),
        "--aws-port",
        str(aws_port),
        "--traffic",
        str(traffic),
        "--step-seconds",
        "1",
    ]
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "local_mode", *arguments],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    running = LocalMode(process, log, port)
    try:
        running.shows("Ctrl-C stops.", timeout=60)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)


def cli(local_mode: LocalMode, *arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(CLI), *arguments],
        cwd=REPO,
        env={**os.environ, **local_mode.exported()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(command: subprocess.Popen[str]) -> str:
    out, err = command.communicate(timeout=60)
    assert command.returncode == 0, (command.args, out, err)
    return out


def as_json(command: subprocess.Popen[str]) -> Any:
    return json.loads(finished(command))


def click(local_mode: LocalMode, rollout_id: str, action: str, user: str) -> int:
    """A button as Slack sends it: form-encoded, signed v0 with the signing secret, fresh timestamp."""
    body = click_body(rollout_id, action, user, DEMO_CHANNEL, f"{time.time():.6f}")
    timestamp = str(int(time.time()))
    signed = f"v0:{timestamp}:{body}".encode()
    signature = "v0=" + hmac.new(DEMO_SIGNING_SECRET.encode(), signed, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"http://127.0.0.1:{local_mode.port}/slack/actions",
        data=body.encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def production(local_mode: LocalMode, prompt: str) -> dict[str, Any]:
    env = local_mode.exported()
    keys = base64.b64encode(f"{env['LANGFUSE_PUBLIC_KEY']}:{env['LANGFUSE_SECRET_KEY']}".encode()).decode()
    request = urllib.request.Request(
        f"{env['LANGFUSE_HOST']}/api/public/v2/prompts/{prompt}?label=production",
        headers={"Authorization": f"Basic {keys}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def test_a_good_candidate_is_promoted_after_two_approvals_and_a_bad_one_aborted_at_5_percent(local_mode):
    start = ("rollout", "start", "--actor", "jane", "--in-process", "--format", "json")
    good = cli(local_mode, *start, "--prompt", "support-answer", "--version", "8")
    bad = cli(local_mode, *start, "--prompt", "refund-answer", "--version", "2")
    rollout_id = as_json(good)["rollout"]["rollout_id"]
    assert as_json(bad)["outcome"] == "started"

    local_mode.shows("[rollout] refund-answer v2 aborted at 5 %: analysis failed: error_rate")
    local_mode.shows("[rollout] support-answer v8 at 5 %: waiting for approval by one of sre, U0LOCALDEV")
    assert click(local_mode, rollout_id, "rollout_approve", STRANGER) == 200
    local_mode.shows(f"[rollout] support-answer v8 refused: not allowed: slack:{STRANGER}")
    finished(
        cli(local_mode, "rollout", "approve", "--prompt", "support-answer", "--actor", "sre", "--in-process")
    )
    local_mode.shows("[rollout] support-answer v8 stepped up to 25 % (approved by sre)")
    local_mode.shows("[rollout] support-answer v8 at 50 %: waiting for approval by one of product-owner")
    assert click(local_mode, rollout_id, "rollout_approve", LOCAL_APPROVER) == 200
    local_mode.shows("[rollout] support-answer v8 baked: the rollout is done")

    status = cli(
        local_mode, "rollout", "status", "--prompt", "support-answer", "--format", "json", "--in-process"
    )
    aborted = cli(
        local_mode, "rollout", "status", "--prompt", "refund-answer", "--format", "json", "--in-process"
    )
    audit = cli(local_mode, "audit", "--prompt", "support-answer", "--format", "json")
    promoted, stopped, records = as_json(status), as_json(aborted), as_json(audit)
    assert {k: promoted[k] for k in ("state", "share", "candidate", "stable")} == {
        "state": "promoted", "share": 100, "candidate": 8, "stable": 7,
    }  # fmt: skip
    assert {k: stopped[k] for k in ("state", "share", "step", "candidate", "stable")} == {
        "state": "aborted", "share": 0, "step": 0, "candidate": 2, "stable": 1,
    }  # fmt: skip
    assert "analysis failed: error_rate" in stopped["reason"]
    assert production(local_mode, "support-answer")["version"] == 8
    refund = production(local_mode, "refund-answer")
    assert refund["version"] == 1 and "canary" in refund["labels"]  # the abort put canary back on stable

    # The auditor's question, from the audit trail: who let v8 go on, and when.
    rollout = [r for r in records if r.get("rollout_id") == rollout_id]
    people = [(r["kind"], r["actor"]) for r in rollout if r["kind"] in ("approved", "rejected")]
    assert people == [
        ("rejected", f"slack:{STRANGER} (local-dev)"),
        ("approved", "sre"),
        ("approved", f"slack:{LOCAL_APPROVER} (local-dev)"),
    ]
    assert [r["kind"] for r in rollout][-2:] == ["promoted", "baked"]


@pytest.mark.parametrize(
    ("versions", "problem"),
    [
        (
            '"7": {exact_match: 0.9, error_rate: -0.1, latency_ms: 800}',
            "versions.7.error_rate: Input should be",
        ),
        (
            '"9": {exact_match: 0.9, error_rate: 0.01, latency_ms: 800}',
            "versions.9: support-answer has no version 9",
        ),
    ],
)
def test_a_bad_traffic_file_exits_2_naming_the_field_before_anything_runs(tmp_path, versions, problem):
    traffic = tmp_path / "traffic.yaml"
    prompt = "support-answer:\n    requests_per_second: 20\n    units: 10\n    versions:\n"
    traffic.write_text(f"prompts:\n  {prompt}      {versions}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LANGFUSE_", "SLACK_"))}
    arguments = ["--port", "0", "--aws-port", "0", "--traffic", str(traffic), "--step-seconds", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "local_mode", *arguments],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert problem in done.stderr and f"prompts.support-answer.{problem}" in done.stderr
    assert "prompt-rollback local mode" not in done.stdout  # nothing was started for anyone to use
