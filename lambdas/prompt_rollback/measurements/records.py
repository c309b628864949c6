"""Typed records of what the measurements read from Langfuse, and the settings they are read with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prompt_rollback.detection import metric_names
from prompt_rollback.detection.triggers import (
    DEFAULT_BASELINE_WINDOW,
    ERROR_RATE,
    EXACT_MATCH,
    LATENCY_P99,
    THUMBS_DOWN,
)


@dataclass(frozen=True)
class MeasurementSettings:
    """What to read: score names, windows, environment. Defaults come from the trigger table."""

    exact_match_score: str = "exact_match"  # the Langfuse score name that means exact match
    feedback_score: str = "user_feedback"  # the Langfuse score name of user feedback
    thumbs_down_value: float = 0.0  # the feedback value that is a thumbs-down
    observation_window: timedelta = field(default=max(ERROR_RATE.window, LATENCY_P99.window))
    score_window: timedelta = field(default=max(EXACT_MATCH.window, THUMBS_DOWN.window))
    baseline_window: timedelta = DEFAULT_BASELINE_WINDOW
    environment: str | None = None  # a Langfuse environment to filter on
    # The rollout candidate's label (domain/rollout_split.py) whose version and share to read; None:
    # no rollout is read (one prompts-list page per 100 prompts holding it is saved).
    candidate_label: str | None = None
    baseline_min_scores: int = EXACT_MATCH.min_samples
    baseline_min_generations: int = LATENCY_P99.min_samples
    row_limit: int = 1000  # the most rows one metrics query may return (Langfuse allows 1..1000)
    prompt_page_size: int = 100  # the most prompts one list page may hold (Langfuse allows 1..100)

    def score_label(self, langfuse_name: str) -> str | None:
        """The `score` label value for a Langfuse score name, None for a name not read."""
        if langfuse_name == self.exact_match_score:
            return metric_names.EXACT_MATCH_SCORE
        if langfuse_name == self.feedback_score:
            return metric_names.FEEDBACK_SCORE
        return None


@dataclass(frozen=True)
class ScoreMeasurement:
    """One score of one prompt version over the score window."""

    score: str  # the `score` label: exact_match | user_feedback
    average: float  # boolean scores: the true-rate
    count: int
    thumbs_down: int | None = None  # feedback only: ratings equal to the thumbs-down value


@dataclass(frozen=True)
class BaselineValue:
    """The same measure of the version before: the previous production on record when the ledger
    knows it, else the highest lower version with enough samples; `basis` says which."""

    version: int
    value: float
    samples: int
    basis: str = ""


@dataclass(frozen=True)
class PromptMeasurement:
    """Everything measured for one prompt version."""

    prompt_name: str
    prompt_version: int
    in_production: bool
    observations_by_level: Mapping[str, int] = field(default_factory=dict)
    latency_p99_seconds: float | None = None
    scores: Mapping[str, ScoreMeasurement] = field(default_factory=dict)  # by `score` label
    latency_p99_baseline: BaselineValue | None = None  # production versions only
    score_baselines: Mapping[str, BaselineValue] = field(default_factory=dict)  # production only
    rollout_share: int = 0  # percent of units served this version as a rollout's candidate; 0: none

    @property
    def observations(self) -> int:
        return sum(self.observations_by_level.values())


@dataclass(frozen=True)
class Measurements:
    """One refresh: every prompt version seen in a window or holding production."""

    taken_at: datetime
    prompts: tuple[PromptMeasurement, ...]
    api_calls: int
    truncated_queries: int = 0  # queries still full after splitting down to one prompt

    def get(self, prompt_name: str, prompt_version: int) -> PromptMeasurement | None:
        return next(
            (p for p in self.prompts if p.prompt_name == prompt_name and p.prompt_version == prompt_version),
            None,
        )
