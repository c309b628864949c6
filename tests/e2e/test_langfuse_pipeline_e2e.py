"""The whole pipeline, for real: Langfuse data -> exporter -> Prometheus (the shipped rules, `for:` cut
to 2s) -> Alertmanager -> local mode, which moves `production` back from v7 to v6. The store starts with
v6's history only; the test then writes v7's regressed traffic (exact match 0.60 against 0.90)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_mode.langfuse_metrics import VersionTraffic, seed_version_traffic
from tests.e2e.conftest import REPO, EndToEnd, ManagedProcess, _wait_ready, free_port, http
from tests.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

PROMPT = "support-answer"
SHIPPED_RULES = REPO / "deploy" / "prometheus" / "rules" / "langfuse-regressions.yml"
TEST_FOR = "2s"
PROMETHEUS_NAMES = ("prometheus",)


def prometheus_binary() -> str:
    override = os.environ.get("PROMETHEUS_BIN")
    for name in [override] if override else list(PROMETHEUS_NAMES):
        found = shutil.which(name)
        if found:
            return found
    message = "prometheus not found; install it with `apt-get install -y --no-install-recommends prometheus`"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so a missing Prometheus is an error)")
    pytest.skip(message)


def shortened_rules() -> str:
    """The shipped rules with each `for:` cut to TEST_FOR; expressions and labels untouched."""
    rules = yaml.safe_load(SHIPPED_RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule and rule.get("labels", {}).get("trigger"):
                rule["for"] = TEST_FOR
    return yaml.safe_dump(rules, sort_keys=False)


@dataclass
class Pipeline:
    e2e: EndToEnd
    exporter: ManagedProcess
    exporter_url: str
    prometheus: ManagedProcess
    prometheus_url: str

    def query(self, promql: str) -> list[dict[str, Any]]:
        status, text = http("GET", f"{self.prometheus_url}/api/v1/query?query={urllib.parse.quote(promql)}")
        assert status == 200, text
        result: list[dict[str, Any]] = json.loads(text)["data"]["result"]
        return result

    def alerts(self, state: str = "firing") -> list[dict[str, Any]]:
        """PromptRegression alerts in `state` (the exporter's own alerts are left out: with a 1 s
        refresh, a scrape can see a last-success two intervals old for a moment)."""
        status, text = http("GET", f"{self.prometheus_url}/api/v1/alerts")
        assert status == 200, text
        return [
            a
            for a in json.loads(text)["data"]["alerts"]
            if a["state"] == state and a["labels"].get("alertname") == "PromptRegression"
        ]

    def check_alive(self) -> None:
        for process in (self.exporter, self.prometheus):
            assert process.alive(), f"{process.name} exited\n{process.output()[-3000:]}"

    # ---- what tests/waiting.py asks of a watched system ----------------------------------------
    def exited(self) -> str | None:
        for process in (self.exporter, self.prometheus):
            if not process.alive():
                return f"{process.name} exited with {process.popen.returncode}"
        return self.e2e.exited()

    def diagnostics(self) -> str:
        return self.e2e.diagnostics()


def _start_exporter(e2e: EndToEnd, tmp_path: Path, port: int) -> ManagedProcess:
    """The console script's module against the Langfuse-compatible store, refreshing every second."""
    assert e2e.langfuse is not None
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("LANGFUSE_", "PROMPT_ROLLBACK_EXPORTER_"))
    }
    env.update(
        LANGFUSE_HOST=e2e.langfuse.url,
        LANGFUSE_PUBLIC_KEY=e2e.langfuse.public_key,
        LANGFUSE_SECRET_KEY=e2e.langfuse.secret_key,
        PROMPT_ROLLBACK_EXPORTER_LISTEN=f"127.0.0.1:{port}",
        PROMPT_ROLLBACK_EXPORTER_REFRESH_INTERVAL="1s",
        PYTHONPATH=os.pathsep.join([str(REPO / "lambdas"), str(REPO)]),
        PYTHONUNBUFFERED="1",
    )
    return ManagedProcess.start(
        "exporter",
        [sys.executable, "-m", "prompt_rollback_exporter"],
        tmp_path / "exporter.log",
        cwd=REPO,
        env=env,
    )


def _start_prometheus(
    e2e: EndToEnd, tmp_path: Path, binary: str, exporter_port: int, port: int
) -> ManagedProcess:
    """Scrapes the exporter every second and sends the shortened rules' alerts to Alertmanager."""
    (tmp_path / "langfuse-regressions.yml").write_text(shortened_rules())
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "langfuse-regressions.yml")],
        "scrape_configs": [
            {
                "job_name": "langfuse-exporter",
                "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
            }
        ],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [e2e.alertmanager_url.removeprefix("http://")]}]}
            ]
        },
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    return ManagedProcess.start(
        "prometheus",
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--rules.alert.resend-delay=1s",
            "--log.level=info",
        ],
        tmp_path / "prometheus.log",
        cwd=tmp_path,
    )


def _stop(process: ManagedProcess) -> None:
    print(f"---- {process.name}, last lines:\n{process.output()[-2000:]}")
    process.stop()


# The exporter is a subprocess (the console script's module, refresh every 1s); prometheus (the
# Debian binary) scrapes it every 1s; Alertmanager and local mode are started as in conftest.py.
@pytest.fixture
def pipeline(e2e: EndToEnd, tmp_path: Path) -> Iterator[Pipeline]:
    binary = prometheus_binary()
    exporter_port, prometheus_port = free_port(), free_port()
    with contextlib.ExitStack() as running:
        # Callbacks run in reverse: Prometheus stops first, then the exporter.
        exporter = _start_exporter(e2e, tmp_path, exporter_port)
        running.callback(_stop, exporter)
        exporter_url = f"http://127.0.0.1:{exporter_port}"
        _wait_ready(e2e, exporter, f"{exporter_url}/metrics")
        prometheus = _start_prometheus(e2e, tmp_path, binary, exporter_port, prometheus_port)
        running.callback(_stop, prometheus)
        prometheus_url = f"http://127.0.0.1:{prometheus_port}"
        _wait_ready(e2e, prometheus, f"{prometheus_url}/-/ready")
        yield Pipeline(e2e, exporter, exporter_url, prometheus, prometheus_url)


def _v7_holds_production_in_prometheus(pipeline: Pipeline) -> None:
    """v6 held production for a week with exact match ~0.90: the baseline the exporter will pick."""
    e2e = pipeline.e2e
    assert e2e.langfuse is not None and e2e.production() == 7
    now = datetime.now(UTC)
    seed_version_traffic(
        e2e.langfuse.metrics,
        VersionTraffic(6, 700, 0.90, error_rate=0.0),
        now - timedelta(days=7),
        now - timedelta(hours=1),
        PROMPT,
    )
    wait_for(
        "Prometheus to scrape v7 holding production",
        lambda: pipeline.query(f'langfuse_prompt_production{{prompt_name="{PROMPT}", prompt_version="7"}}'),
        timeout=30,
        interval=0.2,
        watched=pipeline,
    )
    assert pipeline.alerts() == [] and e2e.slack_messages() == []


def _regression_rolls_back(pipeline: Pipeline) -> float:
    """Write v7's regressed traffic; return the seconds until the label moved."""
    e2e = pipeline.e2e
    assert e2e.langfuse is not None
    appeared = time.monotonic()
    seed_version_traffic(
        e2e.langfuse.metrics,
        VersionTraffic(7, 200, 0.60, error_rate=0.0),
        datetime.now(UTC) - timedelta(minutes=20),
        datetime.now(UTC),
        PROMPT,
    )
    wait_for("the rollback to v6", lambda: e2e.production() == 6, timeout=60, interval=0.1, watched=pipeline)
    label_moved = time.monotonic() - appeared
    pipeline.check_alive()
    return label_moved


def _decision_names_the_trigger(pipeline: Pipeline) -> None:
    e2e = pipeline.e2e
    wait_for(
        "the Slack message and the audit decision",
        lambda: e2e.slack_messages() and e2e.decisions(),
        timeout=15,
        watched=pipeline,
    )
    (decision,) = e2e.decisions()
    assert decision["outcome"] == "rolled_back"
    assert (decision["from_version"], decision["to_version"]) == (7, 6)
    assert decision["actor"] == "alertmanager"
    labels = decision["trigger"]["labels"]
    assert labels["alertname"] == "PromptRegression"
    assert (labels["prompt_name"], labels["prompt_version"]) == (PROMPT, "7")
    assert (labels["trigger"], labels["provider"], labels["severity"]) == (
        "exact_match",
        "langfuse",
        "critical",
    )
    assert "job" not in labels and "instance" not in labels


def _alert_resolves_with_nothing_more_moved(pipeline: Pipeline) -> None:
    """With production on v6 the alert resolves (v7 no longer holds it; v6 has no traffic)."""
    e2e = pipeline.e2e
    wait_for(
        "the alert to resolve in Prometheus",
        lambda: (
            pipeline.query('langfuse_prompt_production{prompt_version="6"}')
            and not pipeline.alerts()
            and not pipeline.alerts("pending")
        ),
        timeout=30,
        interval=0.2,
        watched=pipeline,
    )
    wait_for("the resolved notification", e2e.resolved_deliveries, timeout=20, watched=pipeline)
    wait_for("the request queue to drain", lambda: e2e.queue_depth() == 0, timeout=15, watched=pipeline)
    assert e2e.production() == 6
    assert len(e2e.label_moves()) == 1
    assert len(e2e.slack_messages()) == 1
    assert len(e2e.decisions()) == 1
    assert e2e.chain_problems() == []


def test_a_regression_in_langfuse_rolls_production_back_through_the_real_pipeline(pipeline: Pipeline):
    _v7_holds_production_in_prometheus(pipeline)
    label_moved = _regression_rolls_back(pipeline)
    _decision_names_the_trigger(pipeline)
    _alert_resolves_with_nothing_more_moved(pipeline)
    pipeline.check_alive()
    print(f"regression in the store -> production label moved: {label_moved:.1f}s")
