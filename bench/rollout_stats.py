"""`python -m bench.rollout_stats` (and a section of `make bench`): simulated canary rollouts judged by
the real analysis (domain/canary), against a fixed threshold per interval and a direct 100 % move:
false aborts, power and exposure (docs/rollout.md, "How the analysis decides"). Figures, not timings."""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "lambdas"), str(REPO)]

from prompt_rollback.domain.canary.analysis import (  # noqa: E402
    AnalysisLimits,
    ArmObservations,
    Metric,
    Proportion,
    StepRequirements,
    StepWindow,
    judge_look,
)


@dataclass(frozen=True)
class Version:
    """A version's true behaviour. Latency is log-normal: median and the sigma of its log."""

    error_rate: float = 0.005
    exact_match: float = 0.90
    latency_median_ms: float = 800.0
    latency_sigma: float = 0.5


@dataclass(frozen=True)
class Schedule:
    """The plan's steps and the traffic. The analysis looks once a minute at what Langfuse shows,
    which is `data_lag_minutes` behind; an abort reaches the clients after one prompt-cache TTL."""

    shares: tuple[int, ...] = (5, 25, 50)  # then 100 %: promotion, where the analysis stops
    step_minutes: tuple[int, ...] = (10, 10, 10)
    min_samples_per_arm: int = 200
    requests_per_minute: int = 1000
    active_users: int = 20_000  # each request from one of them, drawn at random
    data_lag_minutes: int = 5
    propagation_minutes: int = 1
    direct_detection_minutes: int = 30  # the rules' `for: 30m`, after a direct 100 % move
    fixed_error_threshold: float = 0.01  # the fixed judge: canary errors > stable + 1 point
    fixed_exact_match_threshold: float = 0.02  # the fixed judge: exact match < stable - 2 points
    fixed_failed_checks: int = 1  # the fixed judge aborts at this many failed checks (Flagger's `threshold`)
    limits: AnalysisLimits = field(default_factory=AnalysisLimits)


@dataclass
class Outcome:
    aborted_at_minute: int | None  # wall-clock minute of the abort, None when promoted
    canary_requests: int  # served by the candidate until the abort reached clients (or promotion)
    users: float  # expected distinct users who got the candidate
    first_worse: Metric | None = None


@dataclass
class _Minute:
    step: int
    share: int
    canary: np.ndarray  # requests, errors, exact matches
    stable: np.ndarray
    canary_latency: np.ndarray
    stable_latency: np.ndarray


def _simulate_minute(
    rng: np.random.Generator, schedule: Schedule, step: int, stable: Version, candidate: Version
) -> _Minute:
    share = schedule.shares[step]
    canary_n = int(rng.binomial(schedule.requests_per_minute, share / 100))
    stable_n = schedule.requests_per_minute - canary_n

    def arm(version: Version, n: int) -> tuple[np.ndarray, np.ndarray]:
        counts = np.array([n, rng.binomial(n, version.error_rate), rng.binomial(n, version.exact_match)])
        latency = rng.lognormal(math.log(version.latency_median_ms), version.latency_sigma, n)
        return counts, latency

    canary, canary_latency = arm(candidate, canary_n)
    stable_counts, stable_latency = arm(stable, stable_n)
    return _Minute(step, share, canary, stable_counts, canary_latency, stable_latency)


def _arm(counts: np.ndarray, latencies: list[np.ndarray]) -> ArmObservations:
    requests, errors, matches = (int(x) for x in counts)
    joined = np.concatenate(latencies) if latencies else np.empty(0)
    return ArmObservations(
        requests=requests,
        errors=errors,
        exact_match=Proportion(trials=requests, successes=matches),
        latency_p99_ms=float(np.percentile(joined, 99)) if joined.size else None,
    )


def _windows(visible: list[_Minute], step: int, share: int) -> list[StepWindow]:
    """Each step's minutes that Langfuse shows so far, both arms summed (P99 over the raw latencies);
    the current step's window comes last, empty while its minutes are still lagging."""
    windows = []
    for each in range(step + 1):
        minutes = [m for m in visible if m.step == each]
        current = each == step  # the analysis reads latency from the current step only
        if not minutes and not current:
            continue
        windows.append(
            StepWindow(
                share=share if current else minutes[0].share,
                canary=_arm(
                    _sum([m.canary for m in minutes]), [m.canary_latency for m in minutes if current]
                ),
                stable=_arm(
                    _sum([m.stable for m in minutes]), [m.stable_latency for m in minutes if current]
                ),
            )
        )
    return windows


def _sum(counts: list[np.ndarray]) -> np.ndarray:
    return np.sum(counts, axis=0) if counts else np.zeros(3, dtype=int)


def _users(schedule: Schedule, minutes: list[_Minute], extra_minutes: int) -> float:
    """Expected distinct users served by the candidate: a unit at hash position h is in from the
    first step whose share exceeds h (sticky), and each request comes from a random active user."""
    total_by_step = [0.0] * len(schedule.shares)
    for minute in minutes:
        total_by_step[minute.step] += schedule.requests_per_minute
    if minutes:
        total_by_step[minutes[-1].step] += extra_minutes * schedule.requests_per_minute
    exposed, lower = 0.0, 0
    miss = 1 - 1 / schedule.active_users
    for step, share in enumerate(schedule.shares):
        band = schedule.active_users * (share - lower) / 100
        requests_while_in = sum(total_by_step[step:])
        exposed += band * (1 - miss**requests_while_in)
        lower = share
    return exposed


def sequential_rollout(
    rng: np.random.Generator, schedule: Schedule, stable: Version, candidate: Version
) -> Outcome:
    minutes: list[_Minute] = []
    previous: dict[Metric, float] = {}
    minute, step, step_started = 0, 0, 0
    while step < len(schedule.shares):
        minutes.append(_simulate_minute(rng, schedule, step, stable, candidate))
        minute += 1
        visible = minutes[: max(0, minute - schedule.data_lag_minutes)]
        requirements = StepRequirements(
            min_duration=timedelta(minutes=schedule.step_minutes[step]),
            min_samples_per_arm=schedule.min_samples_per_arm,
        )
        verdict = judge_look(
            _windows(visible, step, schedule.shares[step]),
            timedelta(minutes=minute - step_started),
            requirements,
            schedule.limits,
            previous,
        )
        previous = verdict.p_values()
        if verdict.outcome == "fail":
            worse = next(m.metric for m in verdict.metrics if m.worse)
            return _aborted(schedule, minutes, minute, worse)
        if verdict.outcome == "pass":
            step, step_started = step + 1, minute
    return Outcome(None, int(sum(m.canary[0] for m in minutes)), _users(schedule, minutes, 0))


def _aborted(schedule: Schedule, minutes: list[_Minute], minute: int, worse: Metric | None) -> Outcome:
    propagation = schedule.propagation_minutes
    served = sum(m.canary[0] for m in minutes) + propagation * schedule.requests_per_minute * (
        minutes[-1].share / 100
    )
    return Outcome(minute, int(served), _users(schedule, minutes, propagation), worse)


def fixed_threshold_rollout(
    rng: np.random.Generator, schedule: Schedule, stable: Version, candidate: Version
) -> Outcome:
    """Flagger-style: each visible minute judged alone, against the thresholds; it aborts at
    `fixed_failed_checks` failed checks; a step ends on time."""
    minutes: list[_Minute] = []
    minute, failed = 0, 0
    for step, length in enumerate(schedule.step_minutes):
        for _ in range(length):
            minutes.append(_simulate_minute(rng, schedule, step, stable, candidate))
            minute += 1
            seen = minute - schedule.data_lag_minutes
            if seen < 1:
                continue
            interval = minutes[seen - 1]
            canary_n, stable_n = interval.canary[0], interval.stable[0]
            if canary_n == 0:
                continue  # Flagger counts "no values" as failed; we are kinder to it here
            errors_worse = interval.canary[1] / canary_n > interval.stable[1] / stable_n + (
                schedule.fixed_error_threshold
            )
            match_worse = interval.canary[2] / canary_n < interval.stable[2] / stable_n - (
                schedule.fixed_exact_match_threshold
            )
            failed += errors_worse or match_worse
            if failed >= schedule.fixed_failed_checks:
                return _aborted(schedule, minutes, minute, "error_rate" if errors_worse else "exact_match")
    return Outcome(None, int(sum(m.canary[0] for m in minutes)), _users(schedule, minutes, 0))


def direct_promotion(schedule: Schedule) -> tuple[int, float]:
    """A bad version moved straight to 100 %, rolled back when the rule has held `for:` its window."""
    minutes = schedule.data_lag_minutes + schedule.direct_detection_minutes + schedule.propagation_minutes
    requests = minutes * schedule.requests_per_minute
    return requests, schedule.active_users * (1 - (1 - 1 / schedule.active_users) ** requests)


@dataclass(frozen=True)
class Scenario:
    label: str
    candidate: Version
    bad: bool


SCENARIOS = (
    Scenario("A/A (candidate identical to stable)", Version(), bad=False),
    Scenario("exact match 0.90 -> 0.85", Version(exact_match=0.85), bad=True),
    Scenario("errors 0.5 % -> 5 %", Version(error_rate=0.05), bad=True),
)


def _quantiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"median {np.median(values):,.0f}, p95 {np.percentile(values, 95):,.0f}"


def run(rollouts: int, schedule: Schedule, seed: int = 20261201) -> list[tuple[str, str, str, bool | None]]:
    """(metric, figure, target, ok) rows, as bench/__main__.py prints them."""
    rows: list[tuple[str, str, str, bool | None]] = []
    direct_requests, direct_users = direct_promotion(schedule)
    for scenario in SCENARIOS:
        for judge_name, judge, plan in (
            ("sequential", sequential_rollout, schedule),
            ("fixed threshold, 1 failed check", fixed_threshold_rollout, schedule),
            (
                "fixed threshold, 5 failed checks",
                fixed_threshold_rollout,
                replace(schedule, fixed_failed_checks=5),
            ),
        ):
            rng = np.random.default_rng(seed)
            outcomes = [judge(rng, plan, Version(), scenario.candidate) for _ in range(rollouts)]
            aborted = [o for o in outcomes if o.aborted_at_minute is not None]
            share = len(aborted) / rollouts
            if scenario.bad:
                target, ok = (">= 95 %", share >= 0.95) if judge_name == "sequential" else ("", None)
                rows.append((f"{scenario.label}, {judge_name}: aborted", f"{share:.1%}", target, ok))
                rows.append(
                    (
                        "  requests / users the candidate served before the abort",
                        f"{_quantiles([o.canary_requests for o in aborted])} / "
                        f"{_quantiles([o.users for o in aborted])}",
                        f"direct 100 %: {direct_requests:,} / {direct_users:,.0f}",
                        None,
                    )
                )
            else:
                target, ok = ("<= 5 %", share <= 0.05) if judge_name == "sequential" else ("", None)
                causes = Counter(str(o.first_worse) for o in aborted)
                figure = f"{share:.1%}" + (
                    f" ({', '.join(f'{m} {n}' for m, n in causes.items())})" if causes else ""
                )
                rows.append((f"{scenario.label}, {judge_name}: false aborts", figure, target, ok))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rollout_stats", description=__doc__.split("\n")[0])
    parser.add_argument("--rollouts", type=int, default=1000)
    args = parser.parse_args()
    rows = run(args.rollouts, Schedule())
    widths = [max(len(row[0]) for row in rows), max(len(row[1]) for row in rows)]
    for metric, figure, target, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        print(f"{metric.ljust(widths[0])}  {figure.ljust(widths[1])}  {target}  {verdict}".rstrip())


if __name__ == "__main__":
    main()
