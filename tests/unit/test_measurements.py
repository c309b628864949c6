"""The pure parts of the Langfuse measurements: query shapes, row values, the baseline choice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from prompt_rollback.measurements import MeasurementSettings
from prompt_rollback.measurements.baseline import previous_version_baseline
from prompt_rollback.measurements.queries import number, refresh_queries, version

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_a_refresh_is_six_grouped_queries_whatever_the_settings():
    for settings in (MeasurementSettings(), MeasurementSettings(environment="production")):
        queries = refresh_queries(settings)
        assert len(queries) == 6
        for query in queries:
            assert {query.prompt_field, query.version_field} <= set(query.dimensions)


def test_the_environment_filter_is_on_every_query():
    for query in refresh_queries(MeasurementSettings(environment="production")):
        body = json.loads(query.to_json(NOW, 1000))
        assert {"column": "environment", "operator": "=", "value": "production", "type": "string"} in body[
            "filters"
        ]


def test_query_json_has_the_window_the_row_limit_and_a_name_filter_when_split():
    query = refresh_queries(MeasurementSettings(score_window=timedelta(minutes=45)))[2]
    body = json.loads(query.to_json(NOW, 500, ["a", "b"]))
    assert body["view"] == "scores-numeric"
    assert body["fromTimestamp"] == "2026-06-01T11:15:00.000Z"
    assert body["toTimestamp"] == "2026-06-01T12:00:00.000Z"
    assert body["config"] == {"row_limit": 500}
    assert body["filters"][-1] == {
        "column": "observationPromptName",
        "operator": "any of",
        "value": ["a", "b"],
        "type": "stringOptions",
    }
    assert {"measure": "value", "aggregation": "avg"} in body["metrics"]


def test_row_values_arrive_as_numbers_or_strings():
    assert number(3) == 3.0 and number("0.25") == 0.25 and number("42") == 42.0
    assert number(None) is None and number("n/a") is None and number(True) is None
    assert version("7") == 7 and version(7) == 7 and version(7.0) == 7
    assert version("latest") is None and version(0) is None and version("1.5") is None


def test_the_baseline_is_the_highest_lower_version_with_enough_samples():
    history = {3: (0.8, 300), 4: (0.3, 20), 5: (0.7, 500), 6: (0.1, 900)}
    found = previous_version_baseline(5, history, min_samples=50)
    assert found is not None and (found.version, found.value, found.samples) == (3, 0.8, 300)
    assert previous_version_baseline(3, history, min_samples=50) is None
    assert previous_version_baseline(5, history, min_samples=10).version == 4  # type: ignore[union-attr]


def test_score_names_map_onto_the_rule_labels():
    settings = MeasurementSettings(exact_match_score="em", feedback_score="thumbs")
    assert settings.score_label("em") == "exact_match"
    assert settings.score_label("thumbs") == "user_feedback"
    assert settings.score_label("exact_match") is None


def test_the_baseline_is_the_previous_production_on_record_when_the_ledger_knows_it():
    history = {6: (0.9, 500), 5: (0.7, 400), 4: (0.8, 300)}
    known = previous_version_baseline(7, history, min_samples=50, known_previous=4)
    assert known is not None and (known.version, known.value) == (4, 0.8)
    assert known.basis == "previous production on record"
    guessed = previous_version_baseline(7, history, min_samples=50)
    assert guessed is not None and guessed.version == 6
    assert guessed.basis == "highest earlier version with enough samples; previous production unknown"
    too_few = previous_version_baseline(7, {6: (0.9, 500), 4: (0.8, 3)}, min_samples=50, known_previous=4)
    assert too_few is not None and too_few.version == 6
    assert "v4, the previous production on record, has too few samples" in too_few.basis
