"""Both arms of a rollout over the same minutes, from Langfuse metrics v2: three grouped queries for
one prompt (levels, P99 latency, exact match and judge scores), whatever the number of versions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from prompt_rollback.domain.canary.analysis import ArmObservations, Proportion, ScoreMean
from prompt_rollback.measurements.collect import OnCall, Row, _key, _observations_by_level, _Reader
from prompt_rollback.measurements.queries import OBSERVATIONS, SCORES, MetricsQuery, number
from prompt_rollback.measurements.records import MeasurementSettings

if TYPE_CHECKING:
    from langfuse.api.client import LangfuseAPI

ERROR_LEVEL = "ERROR"


@dataclass(frozen=True)
class ArmScores:
    exact_match_score: str = "exact_match"
    judge_score: str = "judge"  # an LLM judge's score in [0, 1]


def _queries(prompt_name: str, scores: ArmScores, start: datetime, end: datetime) -> tuple[MetricsQuery, ...]:
    window = end - start
    generations = (
        {"column": "type", "operator": "=", "value": "GENERATION", "type": "string"},
        {"column": "promptName", "operator": "=", "value": prompt_name, "type": "string"},
    )
    scored = (
        {"column": "observationPromptName", "operator": "=", "value": prompt_name, "type": "string"},
        {
            "column": "name",
            "operator": "any of",
            "value": [scores.exact_match_score, scores.judge_score],
            "type": "stringOptions",
        },
    )
    prompt = ("promptName", "promptVersion")
    return (
        MetricsQuery(
            "arm_levels", OBSERVATIONS, (*prompt, "level"), (("count", "count"),), generations, window
        ),
        MetricsQuery(
            "arm_latency", OBSERVATIONS, prompt, (("latency", "p99"), ("count", "count")), generations, window
        ),
        MetricsQuery(
            "arm_scores",
            SCORES,
            ("name", "observationPromptName", "observationPromptVersion"),
            (("value", "avg"), ("count", "count")),
            scored,
            window,
        ),
    )


def _arm(
    version: int, levels: dict[str, int], p99_ms: float | None, score_rows: Sequence[Row], scores: ArmScores
) -> ArmObservations:
    exact: Proportion | None = None
    judge: ScoreMean | None = None
    for row in score_rows:
        if _key(row, "observationPromptName", "observationPromptVersion") is None:
            continue
        if number(row.get("observationPromptVersion")) != version:
            continue
        count = int(number(row.get("count_count")) or 0)
        average = min(max(number(row.get("avg_value")) or 0.0, 0.0), 1.0)
        if row.get("name") == scores.exact_match_score:
            exact = Proportion(trials=count, successes=round(average * count))
        elif row.get("name") == scores.judge_score:
            judge = ScoreMean(count=count, mean=average)
    return ArmObservations(
        requests=sum(levels.values()),
        errors=levels.get(ERROR_LEVEL, 0),
        exact_match=exact,
        judge_score=judge,
        latency_p99_ms=p99_ms if p99_ms and p99_ms > 0 else None,
    )


def measure_arms(
    api: LangfuseAPI,
    prompt_name: str,
    versions: Sequence[int],
    start: datetime,
    end: datetime,
    scores: ArmScores | None = None,
    on_call: OnCall | None = None,
) -> tuple[dict[int, ArmObservations], int]:
    """Each version's observations over [start, end), and the number of Langfuse calls it took."""
    scores = scores or ArmScores()
    reader = _Reader(api, MeasurementSettings(), end, on_call)
    levels_rows, latency_rows, score_rows = (
        reader.rows(q, [prompt_name]) for q in _queries(prompt_name, scores, start, end)
    )
    by_level = _observations_by_level(levels_rows)
    p99: dict[int, float] = {}
    for row in latency_rows:
        key = _key(row, "promptName", "promptVersion")
        value = number(row.get("p99_latency"))
        if key is not None and key[0] == prompt_name and value is not None:
            p99[key[1]] = value  # Langfuse answers milliseconds
    arms = {
        version: _arm(version, by_level.get((prompt_name, version), {}), p99.get(version), score_rows, scores)
        for version in versions
    }
    return arms, reader.calls
