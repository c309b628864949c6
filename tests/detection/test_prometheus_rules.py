"""Run the real Prometheus and Alertmanager tools on deploy/.

promtool comes from Debian's `prometheus` package and amtool from
`prometheus-alertmanager` (both in /usr/bin). A missing binary skips these
tests on a developer machine, but fails them when CI is set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES = REPO_ROOT / "deploy" / "prometheus" / "rules" / "prompt-regressions.yml"
RULE_TESTS = REPO_ROOT / "deploy" / "prometheus" / "tests" / "prompt-regressions.test.yml"
AM_CONFIG = REPO_ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "alertmanager"

DEBIAN_PACKAGE = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is not None:
        return path
    message = (
        f"{name} not found on PATH; install it with "
        f"`apt-get install -y --no-install-recommends {DEBIAN_PACKAGE[name]}`"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so a missing tool is an error)")
    pytest.skip(message)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(args), capture_output=True, text=True, timeout=60, cwd=REPO_ROOT, check=False
    )
    print(f"$ {' '.join(args)}\n--- exit {result.returncode}\n{result.stdout}{result.stderr}")
    return result


def _assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )


def test_promtool_check_rules() -> None:
    result = _run(_tool("promtool"), "check", "rules", str(RULES))
    _assert_ok(result)
    assert "SUCCESS" in result.stdout


def test_promtool_test_rules() -> None:
    result = _run(_tool("promtool"), "test", "rules", str(RULE_TESTS))
    _assert_ok(result)
    assert "SUCCESS" in result.stdout


def test_promtool_test_rules_catches_a_broken_threshold(tmp_path: Path) -> None:
    """The unit tests are not vacuous: loosening one threshold makes them fail."""
    promtool = _tool("promtool")
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    text = RULES.read_text()
    assert ") < -0.05" in text
    (tmp_path / "rules" / RULES.name).write_text(text.replace(") < -0.05", ") < -0.03"))
    shutil.copy(RULE_TESTS, tmp_path / "tests" / RULE_TESTS.name)
    result = _run(promtool, "test", "rules", str(tmp_path / "tests" / RULE_TESTS.name))
    assert result.returncode != 0


def test_amtool_check_config() -> None:
    result = _run(_tool("amtool"), "check-config", str(AM_CONFIG))
    _assert_ok(result)
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=PromptRegression", "prompt_name=support-answer", "prompt_version=7"], "prompt-rollback"),
        (["alertname=HostDown", "instance=db1"], "default"),
    ],
)
def test_amtool_routes(labels: list[str], receiver: str) -> None:
    result = _run(
        _tool("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={AM_CONFIG}",
        f"--verify.receivers={receiver}",
        *labels,
    )
    _assert_ok(result)


def test_amtool_routes_captured_alert() -> None:
    """The labels of the captured real webhook body route to prompt-rollback."""
    fixture = FIXTURES / "firing-0.25.0.json"
    body = json.loads(fixture.read_text())
    labels = [f"{k}={v}" for k, v in body["alerts"][0]["labels"].items()]
    result = _run(
        _tool("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={AM_CONFIG}",
        "--verify.receivers=prompt-rollback",
        *labels,
    )
    _assert_ok(result)
