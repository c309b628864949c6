"""Recovery after a rollback a version-scoped alert caused (the Langfuse-regression rules, the
watcher): such an alert resolves as soon as its version leaves production, so it proves nothing;
the version now in production is judged instead, by the rollback plan's rule on its errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from prompt_rollback.domain.alertmanager import ALERT_NAME

VERSION_SCOPED_RESOLUTION = (
    "a version-scoped alert resolves when its version leaves production: recovery is judged on "
    "the version now in production at the end of the recovery window"
)


def version_scoped(trigger: Mapping[str, Any] | None) -> bool:
    """Whether the alert (a request's trigger, as recorded) fires only on the version holding
    production: every rule of the trigger table and the watcher carry its `trigger` label."""
    labels = (trigger or {}).get("labels") or {}
    return labels.get("alertname") == ALERT_NAME and bool(labels.get("trigger"))


@dataclass(frozen=True)
class RecoveryRule:
    """Recovered: errors under `max_error_rate` of the generations over the last `window`."""

    max_error_rate: float = 0.01
    window: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class ErrorCount:
    """Generations of one prompt version over a window, and how many were at level ERROR."""

    errors: int
    generations: int


@dataclass(frozen=True)
class RecoveryVerdict:
    recovered: bool
    reason: str


def judge_recovery(production: int | None, counted: ErrorCount, rule: RecoveryRule) -> RecoveryVerdict:
    """The rule applied to the production version's errors; no traffic proves nothing."""
    minutes = f"{rule.window.total_seconds() / 60:g} min"
    limit = f"{rule.max_error_rate * 100:g} %"
    if production is None:
        return RecoveryVerdict(False, "no version holds production: recovery cannot be judged")
    if counted.generations <= 0:
        return RecoveryVerdict(
            False, f"no generations of v{production} in the last {minutes}: recovery cannot be judged"
        )
    rate = counted.errors / counted.generations
    measured = (
        f"v{production}: {rate * 100:.1f} % errors ({counted.errors} of {counted.generations} "
        f"generations) in the last {minutes}"
    )
    if rate < rule.max_error_rate:
        return RecoveryVerdict(True, f"{measured}, under {limit}")
    return RecoveryVerdict(False, f"{measured}, not under {limit}")
