"""deploy/grafana/: the committed dashboard is what the trigger table renders, every PromQL expression
in it is parsed by the real promtool, and the provisioning file points Grafana's file provider at it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from prompt_rollback.detection import dashboard
from prompt_rollback.detection import metric_names as m
from prompt_rollback.detection.triggers import TRIGGERS

from tests.detection.test_prometheus_rules import _assert_ok, _run, _tool

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = REPO_ROOT / dashboard.DASHBOARD_PATH
PROVISIONING = REPO_ROOT / "deploy" / "grafana" / "provisioning" / "dashboards" / "prompt-rollback.yaml"


def test_the_committed_dashboard_is_what_the_trigger_table_renders() -> None:
    assert DASHBOARD.read_text() == dashboard.render(), (
        f"{dashboard.DASHBOARD_PATH} differs from prompt_rollback/detection/triggers.py: regenerate it "
        "with `PYTHONPATH=lambdas python -m prompt_rollback.detection`"
    )


def test_the_generator_check_mode_reports_a_drifted_dashboard(tmp_path: Path) -> None:
    stale = tmp_path / "dashboard.json"
    stale.write_text(dashboard.render().replace("exact_match", "exact_matches"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "lambdas"), str(REPO_ROOT)])}
    command = [sys.executable, "-m", "prompt_rollback.detection", "--check", "--dashboard-output"]

    def run(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, str(path)], capture_output=True, text=True, check=False, cwd=REPO_ROOT, env=env
        )

    drifted = run(stale)
    assert drifted.returncode == 1 and "out of date" in drifted.stderr
    assert run(DASHBOARD).returncode == 0


def _rule_file(expressions: list[str]) -> str:
    rules = [{"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(expressions)]
    return yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, sort_keys=False)


def test_promtool_parses_every_expression_of_the_dashboard(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    found = dashboard.expressions(DASHBOARD.read_text())
    # Per trigger: its value per version, canary and stable; a limit line where it has a baseline;
    # the share; the two annotations.
    assert len(found) == 3 * len(TRIGGERS) + 2 + 1 + 2
    rules = tmp_path / "dashboard.rules.yml"
    rules.write_text(_rule_file(found))
    _assert_ok(_run(promtool, "check", "rules", str(rules)))


def test_promtool_would_refuse_a_broken_expression(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    rules = tmp_path / "broken.rules.yml"
    rules.write_text(_rule_file([dashboard.measured(TRIGGERS[0]).replace(")", "", 1)]))
    assert _run(promtool, "check", "rules", str(rules)).returncode != 0


def test_each_trigger_has_a_panel_per_version_and_a_canary_panel_on_the_prompt_variable() -> None:
    board = json.loads(DASHBOARD.read_text())
    panels = [panel for panel in board["panels"] if panel["type"] != "row"]
    titles = {panel["title"] for panel in panels}
    for trigger in TRIGGERS:
        assert f"{trigger.measure} per version" in titles
        assert f"{trigger.measure}: canary against stable" in titles
    assert "canary share" in titles
    assert {variable["name"] for variable in board["templating"]["list"]} == {"datasource", "prompt", "env"}
    assert all('prompt_name="$prompt"' in expr for expr in dashboard.expressions(DASHBOARD.read_text()))
    annotations = {a["name"]: a["expr"] for a in board["annotations"]["list"]}
    assert m.PRODUCTION in annotations["production moved"]
    assert m.ROLLOUT_SHARE in annotations["rollout step"]


def test_the_provisioning_file_loads_the_dashboard_directory() -> None:
    provisioning = yaml.safe_load(PROVISIONING.read_text())
    assert provisioning["apiVersion"] == 1
    [provider] = provisioning["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].endswith("/prompt-rollback")
    assert json.loads(DASHBOARD.read_text())["uid"] == dashboard.UID


def test_no_lambda_handler_loads_the_grafana_sdk() -> None:
    """The SDK is a development dependency: the functions' assets do not have it."""
    handlers = [
        "prompt_rollback.worker.handler",
        "prompt_rollback.watcher.handler",
        "prompt_rollback.detection",
    ]
    code = "import importlib, sys\n" + "".join(f"importlib.import_module({h!r})\n" for h in handlers)
    code += "print('grafana_foundation_sdk' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "lambdas")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "False"
