"""The exporter's settings: durations, defaults from the trigger table, errors named by variable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prompt_rollback.detection.triggers import EXACT_MATCH, LATENCY_P99
from pydantic import ValidationError

from prompt_rollback_exporter.settings import ExporterSettings, describe, parse_duration

KEYS = {"LANGFUSE_PUBLIC_KEY": "pk-lf-1", "LANGFUSE_SECRET_KEY": "sk-lf-secret-value"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for key in [k for k in os.environ if k.startswith(("LANGFUSE_", "PROMPT_ROLLBACK_EXPORTER_"))]:
        monkeypatch.delenv(key)


def settings(monkeypatch, **env: str) -> ExporterSettings:
    for key, value in {**KEYS, **env}.items():
        monkeypatch.setenv(key, value)
    return ExporterSettings()  # type: ignore[call-arg]


def test_durations():
    assert parse_duration("15m") == timedelta(minutes=15)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("90") == timedelta(seconds=90)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_defaults_follow_the_trigger_table(monkeypatch):
    loaded = settings(monkeypatch)
    measurement = loaded.measurement_settings()
    assert loaded.refresh_interval == timedelta(seconds=60)
    assert measurement.score_window == EXACT_MATCH.window
    assert measurement.observation_window == LATENCY_P99.window
    assert measurement.baseline_min_scores == EXACT_MATCH.min_samples
    assert (loaded.host, loaded.port) == ("127.0.0.1", 9464)


def test_a_bad_value_is_refused_with_its_variable_named(monkeypatch):
    with pytest.raises(ValidationError) as raised:
        settings(monkeypatch, LANGFUSE_HOST="ftp://x", PROMPT_ROLLBACK_EXPORTER_SCORE_WINDOW="often")
    text = describe(raised.value)
    assert "  LANGFUSE_HOST: " in text
    assert "  PROMPT_ROLLBACK_EXPORTER_SCORE_WINDOW: not a duration: 'often'" in text
    assert "sk-lf-secret-value" not in text


def test_inconsistent_windows_are_refused(monkeypatch):
    with pytest.raises(ValidationError) as raised:
        settings(monkeypatch, PROMPT_ROLLBACK_EXPORTER_BASELINE_WINDOW="10m")
    assert "baseline_window (0:10:00) is shorter than observation_window" in describe(raised.value)


def test_the_same_score_name_for_both_roles_is_refused(monkeypatch):
    with pytest.raises(ValidationError, match="different Langfuse score names"):
        settings(monkeypatch, PROMPT_ROLLBACK_EXPORTER_FEEDBACK_SCORE="exact_match")


def test_the_candidate_label_is_the_plans_default_and_a_bad_one_is_refused(monkeypatch):
    assert settings(monkeypatch).measurement_settings().candidate_label == "canary"
    assert (
        settings(monkeypatch, PROMPT_ROLLBACK_EXPORTER_CANDIDATE_LABEL="")
        .measurement_settings()
        .candidate_label
        is None
    )
    with pytest.raises(ValidationError) as raised:
        settings(monkeypatch, PROMPT_ROLLBACK_EXPORTER_CANDIDATE_LABEL="Canary 5")
    assert "  PROMPT_ROLLBACK_EXPORTER_CANDIDATE_LABEL: " in describe(raised.value)
