"""The four rollback triggers over Langfuse data: the one table everything else is derived from
(the generated Prometheus rules, the exporter's default windows, the watcher's `Trigger.crossed`).
Thresholds and guards are the app-metric rules'; windows are longer for Langfuse's lag (docs/detection.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum


class Comparison(StrEnum):
    """How a measured value is held against its threshold."""

    DROP_BELOW_BASELINE = "drop_below_baseline"  # value - baseline < -threshold
    RATIO_ABOVE_BASELINE = "ratio_above_baseline"  # value / baseline > threshold
    ABOVE = "above"  # value > threshold


@dataclass(frozen=True)
class Trigger:
    """One rollback trigger: what is measured, its limit, its guard and its timing."""

    name: str  # the `trigger` label of the alert
    measure: str  # what the value is, in words (alert text and docs)
    comparison: Comparison
    threshold: float
    min_samples: int  # low-traffic guard: samples needed in the window (and in the baseline's)
    samples: str  # what is counted for the guard, in words
    window: timedelta  # the exporter's measurement window for this trigger
    for_duration: timedelta  # the rule's `for:`

    def crossed(self, value: float, baseline: float | None, samples: int) -> bool:
        """Whether a measurement on `samples` samples crosses this trigger (no `for:` applied)."""
        if samples < self.min_samples:
            return False
        if self.comparison is Comparison.ABOVE:
            return value > self.threshold
        if baseline is None:
            return False
        if self.comparison is Comparison.DROP_BELOW_BASELINE:
            return value - baseline < -self.threshold
        return baseline > 0 and value / baseline > self.threshold


# Langfuse's v2 metrics can lag ingestion by 5-10 minutes; windows several times that lag keep the
# incomplete share small, and a partial tail lowers sample counts, not ratios, so it delays an alert.
EXACT_MATCH = Trigger(
    name="exact_match",
    measure="exact-match accuracy",
    comparison=Comparison.DROP_BELOW_BASELINE,
    threshold=0.05,
    min_samples=50,
    samples="exact-match scores",
    window=timedelta(minutes=30),
    for_duration=timedelta(minutes=15),
)
LATENCY_P99 = Trigger(
    name="latency_p99",
    measure="P99 generation latency",
    comparison=Comparison.RATIO_ABOVE_BASELINE,
    threshold=1.5,
    min_samples=100,
    samples="generations",
    window=timedelta(minutes=15),
    for_duration=timedelta(minutes=10),
)
ERROR_RATE = Trigger(
    name="error_rate",
    measure="share of generations at level ERROR",
    comparison=Comparison.ABOVE,
    threshold=0.05,
    min_samples=50,
    samples="generations",
    window=timedelta(minutes=15),
    for_duration=timedelta(minutes=5),
)
THUMBS_DOWN = Trigger(
    name="thumbs_down",
    measure="thumbs-down share of user feedback",
    comparison=Comparison.ABOVE,
    threshold=0.20,
    min_samples=20,
    samples="feedback scores",
    window=timedelta(minutes=30),
    for_duration=timedelta(minutes=15),
)

TRIGGERS: tuple[Trigger, ...] = (EXACT_MATCH, LATENCY_P99, ERROR_RATE, THUMBS_DOWN)

# The exporter's own health. Stale: no successful refresh for more than two refresh intervals
# (when the exporter also stops serving the prompt series). Down: Prometheus cannot scrape it.
EXPORTER_JOB = "langfuse-exporter"
EXPORTER_STALE_INTERVALS = 2
EXPORTER_ALERT_FOR = timedelta(minutes=5)

# The baseline: the highest lower version with enough samples over this longer window.
DEFAULT_BASELINE_WINDOW = timedelta(days=7)


def trigger(name: str) -> Trigger:
    """The trigger called `name`, or KeyError naming the known ones."""
    for candidate in TRIGGERS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown trigger {name!r}; known: {', '.join(t.name for t in TRIGGERS)}")
