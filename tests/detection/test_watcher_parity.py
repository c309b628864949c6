"""The watcher and the shipped Prometheus rules reach the same verdicts on the same data.

One scripted hour of measurements (five prompts, every trigger, a flapping error rate, a guard
that fails, a version leaving production, a canary that is never judged) goes two ways:

- through the exporter's own refresher and collector into series, which the real promtool
  (Debian `prometheus`) evaluates with deploy/prometheus/rules/langfuse-regressions.yml;
- through the watcher's evaluation and `for:` state machine, run at the same instants.

The watcher's firing set at every minute becomes promtool's `exp_alerts`; promtool passing means
every alert fires and resolves at the same minute in both. Annotations are dropped from the
test's copy of the rules: the verdict is compared, not the wording.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry
from prompt_rollback.detection import rules
from prompt_rollback.detection.triggers import Trigger
from prompt_rollback.domain.watch import Phase, WatchKey, WatchState, after_sent, plan_run
from prompt_rollback.measurements import (
    BaselineValue,
    Measurements,
    PromptMeasurement,
    ScoreMeasurement,
)
from prompt_rollback.watcher.config import WatcherConfig
from prompt_rollback.watcher.evaluation import observations

from prompt_rollback_exporter.collector import PromptCollector
from prompt_rollback_exporter.refresher import HealthMetrics, Refresher
from tests.detection.test_prometheus_rules import _run, _tool

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES = REPO_ROOT / rules.RULES_PATH
ENV = "prod"
MINUTES = 75
START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def support_answer(minute: int) -> list[PromptMeasurement]:
    """v7: exact match 0.60 vs 0.90 from minute 5 to 39, then back to 0.91.
    v8: a canary, worse on everything, never in production: never judged."""
    exact = 0.60 if 5 <= minute < 40 else 0.91
    v7 = PromptMeasurement(
        "support-answer",
        7,
        in_production=True,
        observations_by_level={"DEFAULT": 300},
        latency_p99_seconds=1.0,
        latency_p99_baseline=BaselineValue(6, 1.0, 5000),
        scores={"exact_match": ScoreMeasurement("exact_match", exact, 200)},
        score_baselines={"exact_match": BaselineValue(6, 0.90, 3000)},
    )
    v8 = PromptMeasurement(
        "support-answer",
        8,
        in_production=False,
        observations_by_level={"DEFAULT": 50, "ERROR": 50},
        scores={"exact_match": ScoreMeasurement("exact_match", 0.1, 100)},
    )
    return [v7, v8]


def billing(minute: int) -> list[PromptMeasurement]:
    """v3: error rate flapping (4 minutes at 10 %, 4 at 1 %), then 12 minutes at 10 %."""
    flapping = (minute // 4) % 2 == 0 if minute < 50 else minute < 62
    errors = 10 if flapping else 1
    return [
        PromptMeasurement(
            "billing",
            3,
            in_production=True,
            observations_by_level={"DEFAULT": 100 - errors, "ERROR": errors},
        )
    ]


def search(minute: int) -> list[PromptMeasurement]:
    """v2: P99 twice the previous version's from minute 10; traffic falls under the guard
    (100 generations) at minute 35, so the alert resolves though latency is still bad."""
    generations = 150 if minute < 35 else 80
    return [
        PromptMeasurement(
            "search",
            2,
            in_production=True,
            observations_by_level={"DEFAULT": generations},
            latency_p99_seconds=2.0 if minute >= 10 else 1.1,
            latency_p99_baseline=BaselineValue(1, 1.0, 900),
        )
    ]


def chat(minute: int) -> list[PromptMeasurement]:
    """v5: 30 % thumbs-down on 25 ratings; at minute 33 production moves to v4.
    v4 then holds production with 10 % thumbs-down: silent."""
    v5_in_production = minute < 33
    v5 = PromptMeasurement(
        "chat",
        5,
        in_production=v5_in_production,
        observations_by_level={"DEFAULT": 120},
        scores={"user_feedback": ScoreMeasurement("user_feedback", 0.7, 25, thumbs_down=8)},
    )
    if v5_in_production:
        return [v5]
    v4 = PromptMeasurement(
        "chat",
        4,
        in_production=True,
        observations_by_level={"DEFAULT": 120},
        scores={"user_feedback": ScoreMeasurement("user_feedback", 0.9, 30, thumbs_down=3)},
    )
    return [v5, v4]


def rare(minute: int) -> list[PromptMeasurement]:
    """v2: exact match 0 on 49 scores (guard: 50): silent."""
    return [
        PromptMeasurement(
            "rare",
            2,
            in_production=True,
            scores={"exact_match": ScoreMeasurement("exact_match", 0.0, 49)},
            score_baselines={"exact_match": BaselineValue(1, 0.9, 500)},
        )
    ]


def measurements_at(minute: int) -> Measurements:
    """The scripted hour. Docstrings say what each prompt should do; the test checks nothing by hand."""
    prompts = [*support_answer(minute), *billing(minute), *search(minute), *chat(minute), *rare(minute)]
    return Measurements(taken_at=START + timedelta(minutes=minute), prompts=tuple(prompts), api_calls=7)


def exporter_series() -> dict[str, list[float | None]]:
    """Every prompt series the exporter publishes, one value per minute (None: absent)."""
    current: dict[str, Measurements] = {}
    registry = CollectorRegistry()
    health = HealthMetrics(registry, 60.0)
    clock = {"now": 0.0}
    refresher = Refresher(lambda now: current["m"], 60.0, health, clock=lambda: clock["now"])
    registry.register(PromptCollector(refresher, ENV))
    series: dict[str, list[float | None]] = {}
    for minute in range(MINUTES):
        current["m"] = measurements_at(minute)
        clock["now"] = minute * 60.0
        refresher.refresh_once()
        for family in registry.collect():
            if not family.name.startswith("langfuse_prompt_"):
                continue
            for sample in family.samples:
                labels = ", ".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                values = series.setdefault(f"{sample.name}{{{labels}}}", [None] * MINUTES)
                values[minute] = sample.value
    return series


def watcher_firing(triggers_for: Callable[[str], tuple[Trigger, ...]]) -> list[set[WatchKey]]:
    """The watcher's firing keys after its run at each minute."""
    states: dict[WatchKey, WatchState] = {}
    firing_by_minute = []
    for minute in range(MINUTES):
        now = START + timedelta(minutes=minute)
        plan = plan_run(states.values(), observations(measurements_at(minute), triggers_for, ENV), now)
        for change in plan.changes:
            key = (change.after or change.before).key  # type: ignore[union-attr]
            states.pop(key, None)
            if change.after is not None:
                done = after_sent(change.after, change.after.outbox)  # delivered at once
                if done is not None:
                    states[key] = done
        firing_by_minute.append({key for key, state in states.items() if state.phase is Phase.FIRING})
    return firing_by_minute


def _values(values: list[float | None]) -> str:
    """promtool's notation. A series that leaves the exporter's answer gets a staleness marker,
    as Prometheus writes one when a scraped series disappears; before that, or after, none."""
    notation = []
    for index, value in enumerate(values):
        if value is not None:
            notation.append(f"{value:g}")
        elif index > 0 and values[index - 1] is not None:
            notation.append("stale")
        else:
            notation.append("_")
    return " ".join(notation)


def promtool_test(firing_by_minute: list[set[WatchKey]], rules_file: Path) -> dict[str, Any]:
    return {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": name, "values": _values(values)} for name, values in exporter_series().items()
                ],
                "alert_rule_test": [
                    {
                        "eval_time": f"{minute}m",
                        "alertname": rules.ALERT_NAME,
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "critical",
                                    "provider": "langfuse",
                                    "trigger": key.trigger,
                                    "env": key.environment,
                                    "prompt_name": key.prompt_name,
                                    "prompt_version": str(key.prompt_version),
                                }
                            }
                            for key in sorted(firing)
                        ],
                    }
                    for minute, firing in enumerate(firing_by_minute)
                ],
            }
        ],
    }


def rules_without_annotations(tmp_path: Path) -> Path:
    document = yaml.safe_load(RULES.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def run_promtool(tmp_path: Path, firing_by_minute: list[set[WatchKey]]) -> Any:
    promtool = _tool("promtool")
    test_file = tmp_path / "parity.test.yml"
    test_file.write_text(yaml.safe_dump(promtool_test(firing_by_minute, rules_without_annotations(tmp_path))))
    return _run(promtool, "test", "rules", str(test_file))


def test_watcher_and_promtool_reach_the_same_verdicts_every_minute(tmp_path: Path) -> None:
    firing_by_minute = watcher_firing(WatcherConfig().triggers_for)

    # The script exercises what it claims: each of these fires at some minute, and resolves.
    fired = {(k.prompt_name, k.trigger) for firing in firing_by_minute for k in firing}
    assert fired == {
        ("support-answer", "exact_match"),
        ("billing", "error_rate"),
        ("search", "latency_p99"),
        ("chat", "thumbs_down"),
    }
    assert firing_by_minute[-1] == set(), "every alert has resolved by the end"

    result = run_promtool(tmp_path, firing_by_minute)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_watcher_that_drifts_from_the_table_disagrees_with_promtool(tmp_path: Path) -> None:
    """The parity check can fail: a watcher holding error_rate to a longer `for:` fires later."""

    def drifted(prompt_name: str) -> tuple[Trigger, ...]:
        return tuple(
            dataclasses.replace(t, for_duration=t.for_duration + timedelta(minutes=2))
            if t.name == "error_rate"
            else t
            for t in WatcherConfig().triggers_for(prompt_name)
        )

    result = run_promtool(tmp_path, watcher_firing(drifted))
    assert result.returncode != 0
    assert "PromptRegression" in result.stdout + result.stderr
