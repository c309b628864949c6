"""What a new user runs first: local mode on a busy port, `npx cdk synth` outside the venv, the
gate's example pair. Each command as the docs print it, in a child process where it matters."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from regression_gate import cli as gate_cli

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        yield taken.getsockname()[1]


def _local_mode(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    finished = subprocess.run(
        [sys.executable, "-m", "local_mode", *args],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO / 'lambdas'}:{REPO}"},
    )
    return finished, time.monotonic() - started


def test_a_busy_aws_port_exits_at_once_naming_the_option(busy_port: int):
    finished, took = _local_mode("--aws-port", str(busy_port), "--port", "0")
    assert finished.returncode != 0
    assert f"{busy_port} is in use" in finished.stderr and "--aws-port" in finished.stderr
    assert took < 20


def test_a_busy_webhook_port_exits_naming_the_option(busy_port: int):
    finished, took = _local_mode("--aws-port", "0", "--port", str(busy_port))
    assert finished.returncode != 0
    assert f"{busy_port} is in use" in finished.stderr and "--port PORT" in finished.stderr
    assert "--aws-port" not in finished.stderr
    assert took < 20


def test_gate_help_names_the_command_people_type(capsys):
    with pytest.raises(SystemExit):
        gate_cli.main(["--help"])
    assert capsys.readouterr().out.startswith("usage: prompt-gate ")


def test_the_gate_example_pair_is_a_regression(capsys):
    code = gate_cli.main(
        ["--baseline", "examples/gate/baseline.jsonl", "--candidate", "examples/gate/candidate.jsonl"]
    )
    assert code == 1
    assert "Verdict: REGRESSION" in capsys.readouterr().out


def test_cdk_json_runs_the_app_through_the_launcher():
    app = json.loads((REPO / "cdk.json").read_text())["app"]
    assert app == "python3 infra/launch.py"


def test_the_launcher_without_a_venv_says_how_to_build_it(tmp_path: Path):
    (tmp_path / "infra").mkdir()
    shutil.copy(REPO / "infra" / "launch.py", tmp_path / "infra" / "launch.py")
    finished = subprocess.run(
        [sys.executable, "infra/launch.py"],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert finished.returncode != 0
    assert "make .venv/.installed" in finished.stderr and "ModuleNotFoundError" not in finished.stderr


def test_the_launcher_runs_app_py_with_the_venv_and_a_quiet_jsii(monkeypatch):
    sys.path.insert(0, str(REPO / "infra"))
    try:
        import launch
    finally:
        sys.path.remove(str(REPO / "infra"))
    monkeypatch.delenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", raising=False)
    monkeypatch.setattr(launch, "node_major", lambda: "20")
    env = launch.environment()
    assert env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] == "20"
    assert str(REPO / "lambdas") in env["PYTHONPATH"].split(":")
    assert launch.VENV_PYTHON == REPO / ".venv" / "bin" / "python"


def test_in_slack_app_mode_the_cli_settings_include_slack(monkeypatch):
    """Without them the CLI's in-process worker printed a webhook-style message instead of
    updating the incident message."""
    from types import SimpleNamespace

    from local_mode.__main__ import _slack_app_settings

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-local")
    monkeypatch.setenv("SLACK_API_BASE_URL", "http://127.0.0.1:9/api/")
    monkeypatch.setenv("SLACK_CHANNEL", "C0LOCALDEV")
    monkeypatch.setenv("ROLLBACK_POLICY", '{"approvers": ["U0LOCALDEV"]}')
    embedded = _slack_app_settings(SimpleNamespace(slack_api=object()))  # type: ignore[arg-type]
    assert "SLACK_BOT_TOKEN=xoxb-local SLACK_API_BASE_URL=http://127.0.0.1:9/api/" in embedded
    assert 'ROLLBACK_POLICY=\'{"approvers": ["U0LOCALDEV"]}\'' in embedded
    real = _slack_app_settings(SimpleNamespace(slack_api=None))  # type: ignore[arg-type]
    assert "xoxb-local" not in real  # a real token is never printed
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    assert _slack_app_settings(SimpleNamespace(slack_api=None)) == ""  # type: ignore[arg-type]
