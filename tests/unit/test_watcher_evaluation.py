"""The watcher's verdicts on measurements, and its settings: plain data, no mocks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prompt_rollback.measurements import (
    BaselineValue,
    Measurements,
    PromptMeasurement,
    ScoreMeasurement,
)
from prompt_rollback.watcher.config import WatcherConfig
from prompt_rollback.watcher.evaluation import observations
from pydantic import ValidationError

from tests.unit.test_watch_state_machine import T0


def measured(*prompts: PromptMeasurement) -> Measurements:
    return Measurements(taken_at=T0, prompts=prompts, api_calls=7)


def regressing(name: str = "support-answer", version: int = 7, production: bool = True) -> PromptMeasurement:
    return PromptMeasurement(
        name,
        version,
        in_production=production,
        observations_by_level={"DEFAULT": 180, "ERROR": 20},
        latency_p99_seconds=3.0,
        latency_p99_baseline=BaselineValue(6, 1.5, 1000),
        scores={
            "exact_match": ScoreMeasurement("exact_match", 0.60, 200),
            "user_feedback": ScoreMeasurement("user_feedback", 0.5, 40, thumbs_down=20),
        },
        score_baselines={"exact_match": BaselineValue(6, 0.90, 900)},
    )


def verdicts(config: WatcherConfig, *prompts: PromptMeasurement) -> dict[str, bool]:
    return {o.key.trigger: o.breaching for o in observations(measured(*prompts), config.triggers_for, "")}


def test_every_trigger_reads_its_measure():
    found = observations(measured(regressing()), WatcherConfig().triggers_for, "prod")
    by_trigger = {o.key.trigger: o for o in found}
    assert {t: o.breaching for t, o in by_trigger.items()} == {
        "exact_match": True,
        "latency_p99": True,
        "error_rate": True,
        "thumbs_down": True,
    }
    assert by_trigger["exact_match"].value == pytest.approx(-0.30)
    assert by_trigger["latency_p99"].value == pytest.approx(2.0)
    assert by_trigger["error_rate"].value == pytest.approx(0.10)
    assert by_trigger["thumbs_down"].summary == "support-answer v7: thumbs-down share of user feedback 50%"
    assert by_trigger["exact_match"].hold_for == timedelta(minutes=15)
    assert {o.key.environment for o in found} == {"prod"}


def test_only_the_production_version_is_judged():
    assert observations(measured(regressing(production=False)), WatcherConfig().triggers_for) == []


def test_missing_baseline_or_low_traffic_is_not_a_breach():
    quiet = PromptMeasurement(
        "support-answer",
        7,
        in_production=True,
        observations_by_level={"ERROR": 49},
        scores={"exact_match": ScoreMeasurement("exact_match", 0.0, 500)},  # no baseline
    )
    assert verdicts(WatcherConfig(), quiet) == {
        "exact_match": False,
        "latency_p99": False,
        "error_rate": False,  # 100 % errors, but 49 generations < 50
        "thumbs_down": False,
    }


def test_overrides_apply_per_prompt_pattern_first_match_wins():
    config = WatcherConfig.model_validate(
        {
            "triggers": {"latency_p99": {"threshold": 2.5}, "thumbs_down": {"enabled": False}},
            "prompts": {
                "support-*": {"exact_match": {"threshold": 0.5, "for_minutes": 30}},
                "*": {"exact_match": {"enabled": False}},
            },
        }
    )
    assert verdicts(config, regressing()) == {"exact_match": False, "latency_p99": False, "error_rate": True}
    triggers = {t.name: t for t in config.triggers_for("support-answer")}
    assert triggers["exact_match"].for_duration == timedelta(minutes=30)
    assert "exact_match" not in {t.name for t in config.triggers_for("billing")}


def test_measurement_settings_follow_the_config():
    settings = WatcherConfig.model_validate(
        {"exact_match_score": "em", "score_window_minutes": 45, "environment": "prod"}
    ).measurement_settings()
    assert (settings.exact_match_score, settings.score_window, settings.environment) == (
        "em",
        timedelta(minutes=45),
        "prod",
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"exact_match_score": "x", "feedback_score": "x"},
        {"score_window_minutes": 0},
        {"triggers": {"thumbs_down": {"threshold": 1.2}}},
        {"triggers": {"latency_p99": {"threshold": 1.0}}},
        {"prompts": {"": {}}},
        {"windows": {}},
    ],
)
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValidationError):
        WatcherConfig.model_validate(bad)


def test_the_alert_says_which_version_it_was_compared_with_and_why():
    prompt = regressing()
    on_record = BaselineValue(4, 0.90, 900, basis="previous production on record")
    prompt = PromptMeasurement(
        prompt.prompt_name,
        prompt.prompt_version,
        in_production=True,
        observations_by_level=prompt.observations_by_level,
        latency_p99_seconds=prompt.latency_p99_seconds,
        latency_p99_baseline=prompt.latency_p99_baseline,
        scores=prompt.scores,
        score_baselines={"exact_match": on_record},
    )
    by_trigger = {o.key.trigger: o for o in observations(measured(prompt), WatcherConfig().triggers_for, "")}
    assert by_trigger["exact_match"].summary == (
        "support-answer v7: exact-match accuracy -0.300 vs v4 (previous production on record)"
    )
