"""The Langfuse rules: generated from the trigger table, and tested with the real promtool.

promtool comes from Debian's `prometheus` package; a missing binary skips on a developer
machine and fails when CI is set (the helpers of test_prometheus_rules.py).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

from prompt_rollback.detection import rules
from prompt_rollback.detection.triggers import EXACT_MATCH, TRIGGERS, Comparison, trigger

from tests.detection.test_prometheus_rules import _assert_ok, _run, _tool

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES = REPO_ROOT / rules.RULES_PATH
RULE_TESTS = REPO_ROOT / "deploy" / "prometheus" / "tests" / "langfuse-regressions.test.yml"


def test_the_committed_rules_file_is_what_the_trigger_table_renders() -> None:
    assert RULES.read_text() == rules.render(), (
        f"{rules.RULES_PATH} differs from prompt_rollback/detection/triggers.py: regenerate it with "
        "`PYTHONPATH=lambdas python -m prompt_rollback.detection`"
    )


def test_the_generator_check_mode_reports_drift(tmp_path: Path) -> None:
    stale = tmp_path / "rules.yml"
    stale.write_text(rules.render().replace("< -0.05", "< -0.10"))
    command = [sys.executable, "-m", "prompt_rollback.detection", "--check", "--output"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "lambdas"), str(REPO_ROOT)])}

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, str(path)], capture_output=True, text=True, check=False, cwd=REPO_ROOT, env=env
        )

    drifted = run(stale)
    assert drifted.returncode == 1
    assert "out of date" in drifted.stderr
    current = run(RULES)
    assert current.returncode == 0, current.stderr


def test_every_trigger_has_an_alert_with_the_webhook_labels() -> None:
    text = rules.render()
    for each in TRIGGERS:
        assert f"trigger: {each.name}" in text
        assert f"for: {rules.duration(each.for_duration)}" in text
    assert text.count("- alert: PromptRegression") == len(TRIGGERS)
    assert text.count("provider: langfuse") == len(TRIGGERS)
    assert text.count("langfuse_prompt_production) == 1") == len(TRIGGERS)


def test_trigger_table_decides_like_the_rules() -> None:
    assert EXACT_MATCH.crossed(0.60, baseline=0.90, samples=200)
    assert not EXACT_MATCH.crossed(0.851, baseline=0.90, samples=500)
    assert not EXACT_MATCH.crossed(0.0, baseline=0.90, samples=49)
    assert not EXACT_MATCH.crossed(0.0, baseline=None, samples=500)
    assert trigger("latency_p99").crossed(2.0, baseline=1.2, samples=150)
    assert not trigger("latency_p99").crossed(1.49, baseline=1.0, samples=1000)
    assert trigger("error_rate").crossed(0.10, baseline=None, samples=100)
    assert not trigger("error_rate").crossed(0.05, baseline=None, samples=1000)
    assert trigger("thumbs_down").comparison is Comparison.ABOVE
    assert not trigger("thumbs_down").crossed(0.5, baseline=None, samples=19)


def test_promtool_check_rules() -> None:
    result = _run(_tool("promtool"), "check", "rules", str(RULES))
    _assert_ok(result)
    assert "SUCCESS: 6 rules found" in result.stdout


def test_promtool_test_rules() -> None:
    result = _run(_tool("promtool"), "test", "rules", str(RULE_TESTS))
    _assert_ok(result)
    assert "SUCCESS" in result.stdout


def test_promtool_tests_fail_when_the_table_changes(tmp_path: Path) -> None:
    """The unit tests pin the table: a looser exact-match limit, rendered, makes them fail."""
    promtool = _tool("promtool")
    (tmp_path / "rules").mkdir()
    (tmp_path / "tests").mkdir()
    looser = dataclasses.replace(EXACT_MATCH, threshold=0.35)
    table = [looser if t is EXACT_MATCH else t for t in TRIGGERS]
    (tmp_path / "rules" / RULES.name).write_text(rules.render(table))
    shutil.copy(RULE_TESTS, tmp_path / "tests" / RULE_TESTS.name)
    result = _run(promtool, "test", "rules", str(tmp_path / "tests" / RULE_TESTS.name))
    assert result.returncode != 0
