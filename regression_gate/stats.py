"""Small statistics helpers around numpy and scipy."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class WelchResult:
    """Welch's two-sample t-test; ``None`` where it cannot be computed (n < 2)."""

    t_stat: float | None
    p_value: float | None


def mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear interpolation; ``None`` for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def welch_t_test(baseline: Sequence[float], candidate: Sequence[float]) -> WelchResult:
    """Two-sided Welch t-test (``scipy.stats.ttest_ind(equal_var=False)``).

    When both samples are constant scipy gives NaN; the answer is then certain:
    p = 0 if the two constants differ, p = 1 if they are equal.
    """
    if len(baseline) < 2 or len(candidate) < 2:
        return WelchResult(None, None)
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(candidate, dtype=float)
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        if a[0] == b[0]:
            return WelchResult(0.0, 1.0)
        return WelchResult(math.copysign(math.inf, float(b[0] - a[0])), 0.0)
    with warnings.catch_warnings():
        # e.g. "Precision loss occurred in moment calculation" on near-constant data
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_ind(b, a, equal_var=False)
    t_stat = float(result.statistic)
    p_value = float(result.pvalue)
    return WelchResult(
        t_stat if math.isfinite(t_stat) else None,
        p_value if math.isfinite(p_value) else None,
    )


def relative_change(baseline: float | None, candidate: float | None) -> float | None:
    """(candidate - baseline) / |baseline|; ``None`` when undefined."""
    if baseline is None or candidate is None or baseline == 0:
        return None
    return (candidate - baseline) / abs(baseline)
