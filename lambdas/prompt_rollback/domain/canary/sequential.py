"""mSPRT always-valid p-values (Johari, Koomen, Pekelis, Walsh, KDD 2017), one-sided, in plain Python.
A p-value here stays valid however often it is looked at: reject when it is at most alpha.
The method and its measured error rates are in docs/rollout.md, "How the analysis decides"."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

# The mixing distribution's spread, on the scale of the difference itself (0.05 = 5 points).
# Johari et al. advise matching it to the effects worth finding: a few points of error rate or
# exact match. Smaller finds small effects later; larger finds large ones sooner.
DEFAULT_MIXING_VARIANCE = 0.05**2
# The largest variance of anything bounded in [0, 1] (a fair coin).
BOUNDED_VARIANCE_LIMIT = 0.25


@dataclass(frozen=True)
class Difference:
    """An estimate of how much worse the canary is than stable (positive = worse), and its variance."""

    worse_by: float
    variance: float

    def __post_init__(self) -> None:
        if not self.variance > 0:
            raise ValueError("a difference needs a positive variance")


def proportion_variance(successes: float, trials: int) -> float:
    """The variance of one arm's observed proportion. The rate is estimated as (x + 1) / (n + 2), so
    that an arm with no errors yet is not taken as certain (which would make any error significant)."""
    smoothed = (successes + 1) / (trials + 2)
    return smoothed * (1 - smoothed) / trials


def bounded_mean_variance(mean: float, count: int, variance: float | None) -> float:
    """The variance of one arm's mean of scores in [0, 1]. Without the scores' own variance (Langfuse
    metrics give counts and means), the bound mean * (1 - mean) holds for any score in [0, 1]; with
    it, one pseudo-observation at the largest possible variance keeps a run of equal scores honest."""
    if variance is None:
        return proportion_variance(mean * count, count)
    return (count * variance + BOUNDED_VARIANCE_LIMIT) / (count + 1) / count


def combined(differences: Iterable[Difference]) -> Difference | None:
    """The inverse-variance weighted difference over windows of fixed traffic shares (the steps).
    Each window compares both arms over the same minutes, so a drift in the baseline between steps,
    while the shares change, cannot pass for a difference between the arms."""
    parts = list(differences)
    if not parts:
        return None
    information = sum(1 / part.variance for part in parts)
    worse_by = sum(part.worse_by / part.variance for part in parts) / information
    return Difference(worse_by=worse_by, variance=1 / information)


def log_mixture_likelihood_ratio(difference: Difference, margin: float, mixing_variance: float) -> float:
    """log of the mixture likelihood ratio of "worse by more than `margin`" against "worse by exactly
    `margin`", mixing over a normal N(margin, tau^2) restricted to the worse side (a half-normal).

    With d = worse_by - margin, v = variance, t = tau^2, it is Johari et al.'s closed form times the
    half-normal's 2 * Phi term:
        2 * Phi(d * sqrt(t) / sqrt(v * (v + t))) * sqrt(v / (v + t)) * exp(t * d^2 / (2 * v * (v + t)))
    It is a supermartingale under every null "worse by at most `margin`", so Ville's inequality bounds
    the chance it ever reaches 1/alpha by alpha."""
    if not mixing_variance > 0:
        raise ValueError("the mixing variance must be positive")
    v, t = difference.variance, mixing_variance
    d = difference.worse_by - margin
    upper_tail = 0.5 * math.erfc(-d * math.sqrt(t) / math.sqrt(2 * v * (v + t)))  # Phi(...)
    if upper_tail == 0.0:  # far on the better side: no evidence at all
        return -math.inf
    return math.log(2 * upper_tail) + 0.5 * math.log(v / (v + t)) + t * d * d / (2 * v * (v + t))


def always_valid_p_value(
    difference: Difference | None,
    margin: float,
    previous: float = 1.0,
    mixing_variance: float = DEFAULT_MIXING_VARIANCE,
) -> float:
    """The running minimum over looks of 1 / likelihood ratio, in [0, 1]; `previous` is the last
    look's p-value (1.0 before the first look). No estimate yet leaves it where it was."""
    if difference is None:
        return min(1.0, previous)
    log_ratio = log_mixture_likelihood_ratio(difference, margin, mixing_variance)
    this_look = 1.0 if log_ratio <= 0 else math.exp(-log_ratio)
    return max(0.0, min(previous, this_look, 1.0))
