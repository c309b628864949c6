"""This run's verdict on every trigger of every production prompt version: plain Python, no I/O.
Each trigger reads the numbers its Prometheus rule reads from the exporter's series (detection/rules.py),
so the two reach the same verdicts on the same data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prompt_rollback.detection import metric_names
from prompt_rollback.detection.triggers import Comparison, Trigger
from prompt_rollback.domain.watch import Observation, WatchKey
from prompt_rollback.measurements.records import BaselineValue, Measurements, PromptMeasurement

ERROR_LEVEL = "ERROR"


@dataclass(frozen=True)
class Reading:
    """What a trigger holds against its threshold: the value, the baseline and the guard count."""

    value: float
    baseline: float | None
    samples: int
    # Which version the baseline is and why ("vs v6 (previous production on record)").
    compared_with: str = "the previous version"


def _exact_match(prompt: PromptMeasurement) -> Reading | None:
    score = prompt.scores.get(metric_names.EXACT_MATCH_SCORE)
    baseline = prompt.score_baselines.get(metric_names.EXACT_MATCH_SCORE)
    if score is None or baseline is None:
        return None
    return Reading(score.average, baseline.value, score.count, _compared_with(baseline))


def _latency_p99(prompt: PromptMeasurement) -> Reading | None:
    if prompt.latency_p99_seconds is None or prompt.latency_p99_baseline is None:
        return None
    baseline = prompt.latency_p99_baseline
    return Reading(prompt.latency_p99_seconds, baseline.value, prompt.observations, _compared_with(baseline))


def _compared_with(baseline: BaselineValue) -> str:
    return f"v{baseline.version} ({baseline.basis})" if baseline.basis else "the previous version"


def _error_rate(prompt: PromptMeasurement) -> Reading | None:
    total = prompt.observations
    if total == 0:
        return None
    return Reading(prompt.observations_by_level.get(ERROR_LEVEL, 0) / total, None, total)


def _thumbs_down(prompt: PromptMeasurement) -> Reading | None:
    feedback = prompt.scores.get(metric_names.FEEDBACK_SCORE)
    if feedback is None or feedback.thumbs_down is None or feedback.count == 0:
        return None
    return Reading(feedback.thumbs_down / feedback.count, None, feedback.count)


# exact_match: average `exact_match` score minus the previous version's, guard: its count;
# latency_p99: P99 over the previous version's P99, guard: generations;
# error_rate:  generations at level ERROR over all generations, guard: generations;
# thumbs_down: thumbs-down ratings over all feedback ratings, guard: feedback ratings.
READINGS: dict[str, Callable[[PromptMeasurement], Reading | None]] = {
    "exact_match": _exact_match,
    "latency_p99": _latency_p99,
    "error_rate": _error_rate,
    "thumbs_down": _thumbs_down,
}


def rule_value(trigger: Trigger, reading: Reading) -> float:
    """The value the Prometheus alert would carry: the left side of its comparison."""
    if trigger.comparison is Comparison.DROP_BELOW_BASELINE and reading.baseline is not None:
        return reading.value - reading.baseline
    if trigger.comparison is Comparison.RATIO_ABOVE_BASELINE and reading.baseline:
        return reading.value / reading.baseline
    return reading.value


def _summary(prompt: PromptMeasurement, trigger: Trigger, reading: Reading, value: float) -> str:
    """As the rules' summary annotation words it, naming the baseline the ledger chose."""
    head = f"{prompt.prompt_name} v{prompt.prompt_version}: {trigger.measure}"
    if trigger.comparison is Comparison.DROP_BELOW_BASELINE:
        return f"{head} {value:+.3f} vs {reading.compared_with}"
    if trigger.comparison is Comparison.RATIO_ABOVE_BASELINE:
        return f"{head} {value:.2f}x {reading.compared_with}"
    return f"{head} {value * 100:.4g}%"  # as Prometheus' humanizePercentage


# Only the version holding `production` is judged, as the rules' `and on (...) production == 1`.
# An absent measure (no scores, no baseline) is not a breach, as a missing series in a PromQL join
# yields no alert.
def observations(
    measurements: Measurements,
    triggers_for: Callable[[str], tuple[Trigger, ...]],
    environment: str = "",
) -> list[Observation]:
    """One observation per production prompt version and applicable trigger."""
    found: list[Observation] = []
    for prompt in measurements.prompts:
        if not prompt.in_production:
            continue
        for trigger in triggers_for(prompt.prompt_name):
            read = READINGS[trigger.name]
            reading = read(prompt)
            key = WatchKey(prompt.prompt_name, prompt.prompt_version, trigger.name, environment)
            if reading is None:
                found.append(Observation(key=key, breaching=False, hold_for=trigger.for_duration))
                continue
            value = rule_value(trigger, reading)
            found.append(
                Observation(
                    key=key,
                    breaching=trigger.crossed(reading.value, reading.baseline, reading.samples),
                    hold_for=trigger.for_duration,
                    value=value,
                    summary=_summary(prompt, trigger, reading, value),
                )
            )
    return found
