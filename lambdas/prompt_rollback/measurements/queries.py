"""The metrics queries one refresh makes, and the reading of their rows: plain Python, no I/O.
Row shape (Langfuse's query builder): every dimension under its field name, every metric under
`{aggregation}_{measure}`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prompt_rollback.measurements.records import MeasurementSettings

OBSERVATIONS = "observations"
SCORES = "scores-numeric"  # numeric and boolean scores; a boolean's average is its true-rate
Filter = dict[str, Any]


@dataclass(frozen=True)
class MetricsQuery:
    """One grouped query; `prompt_names` narrows it when a full answer had to be split."""

    purpose: str  # what it is for, in logs: "levels", "latency", "scores", "thumbs_down", ...
    view: str
    dimensions: tuple[str, ...]
    metrics: tuple[tuple[str, str], ...]  # (measure, aggregation)
    filters: tuple[dict[str, Any], ...]
    window: timedelta

    @property
    def prompt_field(self) -> str:
        return "promptName" if self.view == OBSERVATIONS else "observationPromptName"

    @property
    def version_field(self) -> str:
        return "promptVersion" if self.view == OBSERVATIONS else "observationPromptVersion"

    def to_json(self, now: datetime, row_limit: int, prompt_names: Sequence[str] | None = None) -> str:
        filters = list(self.filters)
        if prompt_names is not None:
            filters.append(
                {
                    "column": self.prompt_field,
                    "operator": "any of",
                    "value": list(prompt_names),
                    "type": "stringOptions",
                }
            )
        query = {
            "view": self.view,
            "dimensions": [{"field": name} for name in self.dimensions],
            "metrics": [{"measure": measure, "aggregation": agg} for measure, agg in self.metrics],
            "filters": filters,
            "fromTimestamp": _iso(now - self.window),
            "toTimestamp": _iso(now),
            # A stable order makes a truncated answer cut the same prompts each time.
            "orderBy": [{"field": name, "direction": "asc"} for name in self.dimensions],
            "config": {"row_limit": row_limit},
        }
        return json.dumps(query, separators=(",", ":"))


def refresh_queries(settings: MeasurementSettings) -> tuple[MetricsQuery, ...]:
    """The six grouped queries of one refresh, whatever the number of prompts."""
    levels, latency, baseline_latency = _observation_queries(settings)
    scores, thumbs_down, baseline_scores = _score_queries(settings)
    return (levels, latency, scores, thumbs_down, baseline_latency, baseline_scores)


def _in_environment(settings: MeasurementSettings) -> list[Filter]:
    return [] if settings.environment is None else [_equals("environment", settings.environment)]


def _observation_queries(settings: MeasurementSettings) -> tuple[MetricsQuery, MetricsQuery, MetricsQuery]:
    """Levels and P99 latency of the generations, per prompt version, and the latency's baseline."""
    generations = (_equals("type", "GENERATION"), _not_null("promptName"), *_in_environment(settings))
    prompt = ("promptName", "promptVersion")
    window = settings.observation_window
    return (
        MetricsQuery("levels", OBSERVATIONS, (*prompt, "level"), (("count", "count"),), generations, window),
        MetricsQuery("latency", OBSERVATIONS, prompt, (("latency", "p99"),), generations, window),
        MetricsQuery(
            "baseline_latency",
            OBSERVATIONS,
            prompt,
            (("latency", "p99"), ("count", "count")),
            generations,
            settings.baseline_window,
        ),
    )


def _score_queries(settings: MeasurementSettings) -> tuple[MetricsQuery, MetricsQuery, MetricsQuery]:
    """Both scores' averages per prompt version, its thumbs-down count, and the scores' baseline."""
    scored = (_not_null("observationPromptName"), *_in_environment(settings))
    both_scores = (*scored, _any_of("name", [settings.exact_match_score, settings.feedback_score]))
    thumbs_down = (
        *scored,
        _equals("name", settings.feedback_score),
        {"column": "value", "operator": "=", "value": settings.thumbs_down_value, "type": "number"},
    )
    scored_prompt = ("name", "observationPromptName", "observationPromptVersion")
    average_and_count = (("value", "avg"), ("count", "count"))
    return (
        MetricsQuery("scores", SCORES, scored_prompt, average_and_count, both_scores, settings.score_window),
        MetricsQuery(
            "thumbs_down", SCORES, scored_prompt, (("count", "count"),), thumbs_down, settings.score_window
        ),
        MetricsQuery(
            "baseline_scores", SCORES, scored_prompt, average_and_count, both_scores, settings.baseline_window
        ),
    )


# ClickHouse quotes 64-bit integers, so numbers and prompt versions may arrive as strings.
def number(value: Any) -> float | None:
    """A row's number, whether Langfuse sent it as a number or a string; None when absent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def version(value: Any) -> int | None:
    """A prompt version (a positive integer), or None for anything else."""
    parsed = number(value)
    if parsed is None or parsed < 1 or parsed != int(parsed):
        return None
    return int(parsed)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _equals(column: str, value: str) -> dict[str, Any]:
    return {"column": column, "operator": "=", "value": value, "type": "string"}


def _any_of(column: str, values: list[str]) -> dict[str, Any]:
    return {"column": column, "operator": "any of", "value": values, "type": "stringOptions"}


def _not_null(column: str) -> dict[str, Any]:
    return {"column": column, "operator": "is not null", "value": "", "type": "null"}
