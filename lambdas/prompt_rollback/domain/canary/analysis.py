"""One look at a canary step: both arms over the same minutes, judged pass, fail or inconclusive.
Error rate, exact match and judge scores by the always-valid p-values of `sequential`; latency by a
plain P99 ratio. Records here are what the controller stores and shows; docs/rollout.md has the method."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prompt_rollback.domain.canary.sequential import (
    DEFAULT_MIXING_VARIANCE,
    Difference,
    always_valid_p_value,
    bounded_mean_variance,
    combined,
    proportion_variance,
)

Metric = Literal["error_rate", "exact_match", "judge_score", "latency_p99"]
Outcome = Literal["pass", "fail", "inconclusive"]
SEQUENTIAL_METRICS: tuple[Metric, ...] = ("error_rate", "exact_match", "judge_score")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Proportion(_Frozen):
    trials: int = Field(ge=0)
    successes: int = Field(ge=0)

    @model_validator(mode="after")
    def _at_most_trials(self) -> Self:
        if self.successes > self.trials:
            raise ValueError("successes cannot exceed trials")
        return self


class ScoreMean(_Frozen):
    """Scores in [0, 1] (an LLM judge's): their count, mean and, when known, variance."""

    count: int = Field(ge=0)
    mean: float = Field(ge=0, le=1)
    variance: float | None = Field(default=None, ge=0, le=0.25)


class ArmObservations(_Frozen):
    """One arm (one prompt version) over one window of minutes."""

    requests: int = Field(ge=0)
    errors: int = Field(ge=0)
    exact_match: Proportion | None = None
    judge_score: ScoreMean | None = None
    latency_p99_ms: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _errors_within_requests(self) -> Self:
        if self.errors > self.requests:
            raise ValueError("errors cannot exceed requests")
        return self


class StepWindow(_Frozen):
    """Both arms over the same minutes of one step, at the candidate's share of that step."""

    share: int = Field(ge=1, le=99)
    canary: ArmObservations
    stable: ArmObservations


class StepRequirements(_Frozen):
    """What the plan asks of a step before it may pass."""

    min_duration: timedelta
    min_samples_per_arm: int = Field(ge=1)


class AnalysisLimits(_Frozen):
    """How much worse the canary may be. Defaults: the issue's default plan (errors not worse at all,
    exact match at least stable - 2 points, P99 at most 1.2x stable's); judge scores as exact match."""

    alpha: float = Field(default=0.05, gt=0, lt=1)
    error_rate_margin: float = Field(default=0.0, ge=0, lt=1)
    exact_match_margin: float = Field(default=0.02, ge=0, lt=1)
    judge_score_margin: float = Field(default=0.02, ge=0, lt=1)
    latency_p99_ratio: float = Field(default=1.2, gt=1)
    latency_min_samples: int = Field(default=500, ge=1)
    mixing_variance: float = Field(default=DEFAULT_MIXING_VARIANCE, gt=0)
    required: frozenset[Metric] = frozenset({"error_rate", "exact_match", "latency_p99"})


class MetricResult(_Frozen):
    """One metric at one look, with both arms' numbers. For latency, `limit` is the largest allowed
    P99 ratio and there is no p-value; for the others, `limit` is the margin and `worse` means p <= alpha."""

    metric: Metric
    canary: float | None
    stable: float | None
    canary_samples: int
    stable_samples: int
    limit: float
    p_value: float | None = None
    worse: bool = False


class Verdict(_Frozen):
    outcome: Outcome
    reasons: tuple[str, ...]
    metrics: tuple[MetricResult, ...]

    def p_values(self) -> dict[Metric, float]:
        """What the next look passes as `previous`: the p-values are running minima."""
        return {m.metric: m.p_value for m in self.metrics if m.p_value is not None}


def _proportion(worse_when_higher: bool, canary: Proportion, stable: Proportion) -> Difference | None:
    if canary.trials == 0 or stable.trials == 0:
        return None
    difference = canary.successes / canary.trials - stable.successes / stable.trials
    return Difference(
        worse_by=difference if worse_when_higher else -difference,
        variance=proportion_variance(canary.successes, canary.trials)
        + proportion_variance(stable.successes, stable.trials),
    )


def _score(canary: ScoreMean | None, stable: ScoreMean | None) -> Difference | None:
    if canary is None or stable is None or canary.count == 0 or stable.count == 0:
        return None
    return Difference(
        worse_by=stable.mean - canary.mean,
        variance=bounded_mean_variance(canary.mean, canary.count, canary.variance)
        + bounded_mean_variance(stable.mean, stable.count, stable.variance),
    )


def _errors(arm: ArmObservations) -> Proportion:
    return Proportion(trials=arm.requests, successes=arm.errors)


def _window_difference(metric: Metric, window: StepWindow) -> Difference | None:
    canary, stable = window.canary, window.stable
    if metric == "error_rate":
        return _proportion(True, _errors(canary), _errors(stable))
    if metric == "exact_match":
        if canary.exact_match is None or stable.exact_match is None:
            return None
        return _proportion(False, canary.exact_match, stable.exact_match)
    return _score(canary.judge_score, stable.judge_score)


def _pooled(metric: Metric, arms: Sequence[ArmObservations]) -> tuple[float | None, int]:
    """An arm's value over all windows, for people to read (the test itself weighs by window)."""
    if metric == "error_rate":
        parts = [(float(arm.errors), arm.requests) for arm in arms]
    elif metric == "exact_match":
        parts = [(float(a.exact_match.successes), a.exact_match.trials) for a in arms if a.exact_match]
    else:
        scores = [a.judge_score for a in arms if a.judge_score]
        parts = [(score.mean * score.count, score.count) for score in scores]
    count = sum(n for _, n in parts)
    return (sum(x for x, _ in parts) / count if count else None), count


def _sequential_result(
    metric: Metric, windows: Sequence[StepWindow], limits: AnalysisLimits, previous: float
) -> MetricResult:
    margin = {
        "error_rate": limits.error_rate_margin,
        "exact_match": limits.exact_match_margin,
        "judge_score": limits.judge_score_margin,
    }[metric]
    estimate = combined(d for w in windows if (d := _window_difference(metric, w)) is not None)
    p_value = always_valid_p_value(estimate, margin, previous, limits.mixing_variance)
    canary, canary_samples = _pooled(metric, [w.canary for w in windows])
    stable, stable_samples = _pooled(metric, [w.stable for w in windows])
    return MetricResult(
        metric=metric,
        canary=canary,
        stable=stable,
        canary_samples=canary_samples,
        stable_samples=stable_samples,
        limit=margin,
        p_value=p_value,
        worse=p_value <= limits.alpha,
    )


def _latency_result(window: StepWindow, limits: AnalysisLimits) -> MetricResult:
    """Not a sequential test: the current step's P99s compared once both arms have enough requests."""
    canary, stable = window.canary, window.stable
    enough = min(canary.requests, stable.requests) >= limits.latency_min_samples
    measured = canary.latency_p99_ms is not None and stable.latency_p99_ms is not None
    worse = (
        enough
        and canary.latency_p99_ms is not None
        and stable.latency_p99_ms is not None
        and canary.latency_p99_ms > limits.latency_p99_ratio * stable.latency_p99_ms
    )
    return MetricResult(
        metric="latency_p99",
        canary=canary.latency_p99_ms,
        stable=stable.latency_p99_ms,
        canary_samples=canary.requests if measured else 0,
        stable_samples=stable.requests if measured else 0,
        limit=limits.latency_p99_ratio,
        worse=worse,
    )


def _describe(result: MetricResult) -> str:
    if result.metric == "latency_p99":
        return f"latency_p99: canary {result.canary:.0f} ms > {result.limit}x stable {result.stable:.0f} ms"
    return (
        f"{result.metric}: canary {result.canary:.4f} vs stable {result.stable:.4f} "
        f"(margin {result.limit}), p = {result.p_value:.4f}"
    )


def _why_not_yet(
    current: StepWindow, elapsed: timedelta, requirements: StepRequirements, results: Sequence[MetricResult]
) -> list[str]:
    """Why a step without a significantly worse metric cannot pass yet (empty: it passes)."""
    reasons = []
    fewest = min(current.canary.requests, current.stable.requests)
    if fewest == 0:
        reasons.append("no data in this step")
    elif fewest < requirements.min_samples_per_arm:
        reasons.append(
            f"too few samples: canary {current.canary.requests}, stable {current.stable.requests} "
            f"of {requirements.min_samples_per_arm} per arm"
        )
    if elapsed < requirements.min_duration:
        reasons.append(f"step time {elapsed} of {requirements.min_duration}")
    reasons.extend(f"no {r.metric} data" for r in results if r.canary_samples == 0 or r.stable_samples == 0)
    return reasons


def judge_look(
    windows: Sequence[StepWindow],
    elapsed: timedelta,
    requirements: StepRequirements,
    limits: AnalysisLimits | None = None,
    previous: Mapping[Metric, float] | None = None,
) -> Verdict:
    """One look. `windows` are the rollout's steps so far, the current one last, each with both arms'
    totals over that step's minutes; `elapsed` is the current step's time; `previous` the last look's
    `Verdict.p_values()`. Fail as soon as any metric is worse; pass only when nothing is missing."""
    limits = limits or AnalysisLimits()
    previous = previous or {}
    if not windows:
        return Verdict(outcome="inconclusive", reasons=("no data",), metrics=())
    results = [_sequential_result(m, windows, limits, previous.get(m, 1.0)) for m in SEQUENTIAL_METRICS]
    results.append(_latency_result(windows[-1], limits))
    worse = [r for r in results if r.worse]
    if worse:
        return Verdict(outcome="fail", reasons=tuple(_describe(r) for r in worse), metrics=tuple(results))
    required = [r for r in results if r.metric in limits.required]
    missing = _why_not_yet(windows[-1], elapsed, requirements, required)
    outcome: Outcome = "inconclusive" if missing else "pass"
    return Verdict(outcome=outcome, reasons=tuple(missing), metrics=tuple(results))
