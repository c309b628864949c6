"""The canary analysis's mSPRT against a scipy reference, its type-I error by simulation, and the
verdicts a rollout controller acts on (pass, fail at once, inconclusive)."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from prompt_rollback.domain.canary.analysis import (
    AnalysisLimits,
    ArmObservations,
    Proportion,
    ScoreMean,
    StepRequirements,
    StepWindow,
    judge_look,
)
from prompt_rollback.domain.canary.sequential import (
    Difference,
    always_valid_p_value,
    combined,
    log_mixture_likelihood_ratio,
)
from pydantic import ValidationError
from scipy import integrate, stats

REQUIREMENTS = StepRequirements(min_duration=timedelta(minutes=10), min_samples_per_arm=200)
TEN_MINUTES = timedelta(minutes=10)


# ---- the statistic against a reference ----------------------------------------------------------
def reference_by_integration(worse_by: float, variance: float, margin: float, tau2: float) -> float:
    """The mixture likelihood ratio by numerical integration: the estimate's normal likelihood at each
    effect, weighted by the half-normal on the worse side, over its likelihood at the margin. The
    interval ends where the integrand is negligible (quad misses a narrow peak on [0, inf))."""
    sd, tau = math.sqrt(variance), math.sqrt(tau2)

    def integrand(effect: float) -> float:
        log_ratio = stats.norm.logpdf(worse_by, margin + effect, sd) - stats.norm.logpdf(worse_by, margin, sd)
        return math.exp(log_ratio) * 2 * stats.norm.pdf(effect, 0, tau)

    precision = 1 / variance + 1 / tau2
    peak = max(0.0, (worse_by - margin) / variance / precision)
    width = 1 / math.sqrt(precision)
    value, _ = integrate.quad(
        integrand, 0, peak + 40 * width, points=[peak], limit=500, epsabs=0, epsrel=1e-10
    )
    return float(value)


def reference_johari(sample_mean: float, n: int, sigma2: float, margin: float, tau2: float) -> float:
    """Johari et al.'s closed form in n (one stream, variance sigma2 per observation), times the
    half-normal's 2 * Phi(...) for the one-sided test, in numpy."""
    d = sample_mean - margin
    two_sided = np.sqrt(sigma2 / (sigma2 + n * tau2)) * np.exp(
        n**2 * tau2 * d**2 / (2 * sigma2 * (sigma2 + n * tau2))
    )
    return float(
        2 * stats.norm.cdf(d * np.sqrt(tau2) / np.sqrt(sigma2 / n * (sigma2 / n + tau2))) * two_sided
    )


@pytest.mark.parametrize("worse_by", [-0.05, -0.01, 0.0, 0.01, 0.03, 0.06])
@pytest.mark.parametrize("variance", [1e-5, 2e-4, 3e-3])
@pytest.mark.parametrize("margin", [0.0, 0.02])
@pytest.mark.parametrize("tau2", [0.01**2, 0.05**2, 0.2**2])
def test_the_mixture_ratio_matches_numerical_integration(worse_by, variance, margin, tau2):
    ours = log_mixture_likelihood_ratio(Difference(worse_by, variance), margin, tau2)
    reference = reference_by_integration(worse_by, variance, margin, tau2)
    if reference < 1e-300:
        assert ours < -690
    else:
        assert ours == pytest.approx(math.log(reference), rel=1e-6, abs=1e-6)


@pytest.mark.parametrize(("sample_mean", "n"), [(0.01, 100), (0.03, 400), (0.021, 5000), (-0.01, 50)])
def test_the_mixture_ratio_matches_johari_et_al_closed_form(sample_mean, n):
    sigma2, margin, tau2 = 0.09, 0.0, 0.05**2
    ours = log_mixture_likelihood_ratio(Difference(sample_mean, sigma2 / n), margin, tau2)
    assert math.exp(ours) == pytest.approx(reference_johari(sample_mean, n, sigma2, margin, tau2), rel=1e-9)


def test_the_p_value_is_the_running_minimum_and_rejects_at_alpha():
    clear = Difference(worse_by=0.08, variance=0.0001)
    first = always_valid_p_value(clear, margin=0.0)
    assert first < 0.001
    # A later look with no evidence cannot undo an earlier one.
    assert always_valid_p_value(Difference(-0.02, 0.0001), 0.0, previous=first) == first
    assert always_valid_p_value(None, 0.0, previous=0.3) == 0.3


def test_windows_combine_by_their_information():
    precise, vague = Difference(0.01, 1e-5), Difference(0.2, 1e-2)
    both = combined([precise, vague])
    assert both is not None
    assert both.worse_by == pytest.approx((0.01 / 1e-5 + 0.2 / 1e-2) / (1 / 1e-5 + 1 / 1e-2))
    assert both.variance < precise.variance
    assert combined([]) is None


# ---- type-I error and power by simulation -------------------------------------------------------
def arm(rng, n, error_rate, exact_match) -> ArmObservations:
    return ArmObservations(
        requests=n,
        errors=int(rng.binomial(n, error_rate)),
        exact_match=Proportion(trials=n, successes=int(rng.binomial(n, exact_match))),
    )


def add(a: ArmObservations, b: ArmObservations) -> ArmObservations:
    assert a.exact_match is not None and b.exact_match is not None
    return ArmObservations(
        requests=a.requests + b.requests,
        errors=a.errors + b.errors,
        exact_match=Proportion(
            trials=a.exact_match.trials + b.exact_match.trials,
            successes=a.exact_match.successes + b.exact_match.successes,
        ),
    )


def rollout_aborts(rng, candidate_exact_match, candidate_errors=0.005, minutes_per_step=10) -> bool:
    """One rollout at 1,000 requests a minute, 5 -> 25 -> 50 %, looked at every minute."""
    limits = AnalysisLimits(required=frozenset({"error_rate", "exact_match"}))
    previous: dict = {}
    windows: list[StepWindow] = []
    for share in (5, 25, 50):
        canary_n = int(1000 * share / 100)
        for minute in range(minutes_per_step):
            canary = arm(rng, canary_n, candidate_errors, candidate_exact_match)
            stable = arm(rng, 1000 - canary_n, 0.005, 0.90)
            if minute == 0:
                windows.append(StepWindow(share=share, canary=canary, stable=stable))
            else:
                last = windows[-1]
                windows[-1] = StepWindow(
                    share=share, canary=add(last.canary, canary), stable=add(last.stable, stable)
                )
            verdict = judge_look(windows, timedelta(minutes=minute + 1), REQUIREMENTS, limits, previous)
            previous = verdict.p_values()
            if verdict.outcome == "fail":
                return True
    return False


@pytest.mark.parametrize(
    ("label", "candidate_exact_match"),
    [("identical to stable", 0.90), ("exactly at the margin, 2 points below", 0.88)],
)
def test_type_one_error_over_200_rollouts_looked_at_every_minute(label, candidate_exact_match):
    rng = np.random.default_rng(7)
    aborted = sum(rollout_aborts(rng, candidate_exact_match) for _ in range(200))
    # alpha = 0.05; the tolerance is two binomial standard deviations at 200 rollouts.
    assert aborted / 200 <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / 200), label


def test_a_candidate_five_points_worse_in_exact_match_is_aborted():
    rng = np.random.default_rng(11)
    aborted = sum(rollout_aborts(rng, 0.85) for _ in range(40))
    assert aborted / 40 >= 0.9


# ---- verdicts -----------------------------------------------------------------------------------
def window(canary: ArmObservations, stable: ArmObservations, share: int = 5) -> StepWindow:
    return StepWindow(share=share, canary=canary, stable=stable)


def observed(requests: int, errors: int, matches: int, p99: float = 800.0) -> ArmObservations:
    return ArmObservations(
        requests=requests,
        errors=errors,
        exact_match=Proportion(trials=requests, successes=matches),
        latency_p99_ms=p99,
    )


def test_no_data_is_inconclusive_and_never_passes():
    assert judge_look([], TEN_MINUTES, REQUIREMENTS).outcome == "inconclusive"
    empty = judge_look([window(observed(0, 0, 0), observed(0, 0, 0))], TEN_MINUTES, REQUIREMENTS)
    assert empty.outcome == "inconclusive"
    assert "no data in this step" in empty.reasons


def test_too_few_samples_or_too_little_time_is_inconclusive():
    few = judge_look([window(observed(120, 0, 108), observed(2280, 11, 2052))], TEN_MINUTES, REQUIREMENTS)
    assert few.outcome == "inconclusive"
    assert any("too few samples: canary 120" in reason for reason in few.reasons)
    early = judge_look(
        [window(observed(500, 2, 450), observed(9500, 47, 8550))], timedelta(minutes=4), REQUIREMENTS
    )
    assert early.outcome == "inconclusive"
    assert early.reasons == ("step time 0:04:00 of 0:10:00",)


def test_a_step_passes_when_time_and_samples_are_met_and_nothing_is_worse():
    verdict = judge_look([window(observed(500, 2, 452), observed(9500, 47, 8550))], TEN_MINUTES, REQUIREMENTS)
    assert verdict.outcome == "pass"
    errors = next(m for m in verdict.metrics if m.metric == "error_rate")
    assert (errors.canary, errors.stable) == (pytest.approx(0.004), pytest.approx(47 / 9500))
    assert (errors.canary_samples, errors.stable_samples) == (500, 9500)


def test_a_significantly_worse_metric_fails_at_once_before_the_step_time():
    verdict = judge_look(
        [window(observed(150, 12, 135), observed(2850, 14, 2565))], timedelta(minutes=3), REQUIREMENTS
    )
    assert verdict.outcome == "fail"
    assert verdict.reasons[0].startswith("error_rate: canary 0.0800 vs stable 0.0049")
    assert verdict.p_values()["error_rate"] <= 0.05


def test_exact_match_within_the_margin_is_not_worse_but_beyond_it_fails():
    stable = observed(20000, 100, 18000)
    within = judge_look([window(observed(20000, 100, 17700), stable, 50)], TEN_MINUTES, REQUIREMENTS)
    assert within.outcome == "pass"  # 1.5 points below stable, the margin is 2
    beyond = judge_look([window(observed(20000, 100, 17000), stable, 50)], TEN_MINUTES, REQUIREMENTS)
    assert beyond.outcome == "fail"
    assert beyond.reasons[0].startswith("exact_match: canary 0.8500 vs stable 0.9000 (margin 0.02)")


def test_a_required_metric_without_data_keeps_the_step_from_passing():
    no_scores = ArmObservations(requests=500, errors=2, latency_p99_ms=800)
    verdict = judge_look(
        [window(no_scores, no_scores.model_copy(update={"requests": 9500}))], TEN_MINUTES, REQUIREMENTS
    )
    assert verdict.outcome == "inconclusive"
    assert "no exact_match data" in verdict.reasons


def test_judge_scores_are_tested_as_bounded_means():
    canary = observed(3000, 10, 2700).model_copy(update={"judge_score": ScoreMean(count=3000, mean=0.70)})
    stable = observed(3000, 10, 2700).model_copy(update={"judge_score": ScoreMean(count=3000, mean=0.80)})
    verdict = judge_look([window(canary, stable, 50)], TEN_MINUTES, REQUIREMENTS)
    assert verdict.outcome == "fail"
    assert verdict.reasons[0].startswith("judge_score: canary 0.7000 vs stable 0.8000")


def test_latency_fails_on_the_p99_ratio_only_with_enough_samples():
    slow = judge_look(
        [window(observed(600, 3, 540, p99=1300), observed(9400, 47, 8460))], TEN_MINUTES, REQUIREMENTS
    )
    assert slow.outcome == "fail"
    assert slow.reasons == ("latency_p99: canary 1300 ms > 1.2x stable 800 ms",)
    few = judge_look(
        [window(observed(300, 1, 270, p99=1300), observed(5700, 28, 5130))], TEN_MINUTES, REQUIREMENTS
    )
    assert few.outcome == "pass"


def test_an_earlier_significant_look_is_not_forgotten():
    quiet = [window(observed(500, 2, 450), observed(9500, 47, 8550))]
    verdict = judge_look(quiet, TEN_MINUTES, REQUIREMENTS, previous={"error_rate": 0.01})
    assert verdict.outcome == "fail"
    assert verdict.p_values()["error_rate"] == 0.01


@pytest.mark.parametrize(
    "make",
    [
        lambda: ArmObservations(requests=10, errors=11),
        lambda: Proportion(trials=5, successes=6),
        lambda: ScoreMean(count=3, mean=1.5),
        lambda: StepWindow(
            share=0,
            canary=ArmObservations(requests=0, errors=0),
            stable=ArmObservations(requests=0, errors=0),
        ),
    ],
)
def test_impossible_observations_are_refused(make):
    with pytest.raises(ValidationError):
        make()
