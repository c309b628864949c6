"""The gate's rules: compare metrics, check the rollback triggers, decide REGRESSION, APPROVE or
INCONCLUSIVE (docs/detection.md, "What it computes"; exit codes in regression_gate.cli). The triggers
are the production alert thresholds, inclusive at the first two so the gate blocks what the alert fires on."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from regression_gate.loader import Sample
from regression_gate.stats import mean, percentile, relative_change, welch_t_test

QUALITY_METRICS = ("exact_match", "f1", "judge_score")

EXACT_MATCH_MAX_DROP = 0.05
LATENCY_P99_MAX_RATIO = 1.5
ERROR_RATE_MAX = 0.05
THUMBS_DOWN_RATE_MAX = 0.20


class Verdict(enum.Enum):
    APPROVE = "APPROVE"
    REGRESSION = "REGRESSION"
    INCONCLUSIVE = "INCONCLUSIVE"


class Status(enum.Enum):
    """Outcome of one metric comparison."""

    REGRESSION = "REGRESSION"
    WORSE = "worse"
    BETTER = "better"
    NOT_SIGNIFICANT = "not significant"
    INSUFFICIENT_DATA = "insufficient data"


class TriggerStatus(enum.Enum):
    OK = "ok"
    CROSSED = "CROSSED"
    INSUFFICIENT_DATA = "insufficient data"
    NO_DATA = "no data"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: str  # "quality" decides the verdict; the others are reported
    higher_is_better: bool
    unit: str
    values: Callable[[Sequence[Sample]], list[float]]


def _field(name: str) -> Callable[[Sequence[Sample]], list[float]]:
    def values(samples: Sequence[Sample]) -> list[float]:
        out: list[float] = []
        for sample in samples:
            value = getattr(sample, name)
            if value is not None:
                out.append(float(value))
        return out

    return values


def _errors(samples: Sequence[Sample]) -> list[float]:
    return [1.0 if s.error else 0.0 for s in samples]


def _thumbs_down(samples: Sequence[Sample]) -> list[float]:
    return [1.0 if s.feedback == "down" else 0.0 for s in samples if s.feedback is not None]


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("exact_match", "quality", True, "ratio", _field("exact_match")),
    MetricSpec("f1", "quality", True, "ratio", _field("f1")),
    MetricSpec("judge_score", "quality", True, "score", _field("judge_score")),
    MetricSpec("latency_ms", "latency", False, "ms", _field("latency_ms")),
    MetricSpec("cost_usd", "cost", False, "USD", _field("cost_usd")),
    MetricSpec("error_rate", "reliability", False, "ratio", _errors),
    MetricSpec("thumbs_down_rate", "feedback", False, "ratio", _thumbs_down),
)
METRIC_BY_NAME = {spec.name: spec for spec in METRICS}


@dataclass(frozen=True)
class GateConfig:
    alpha: float = 0.05
    max_relative_drop: float = 0.05
    min_samples: int = 20
    primary: str = "auto"  # "auto" or one of QUALITY_METRICS

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.max_relative_drop < 0:
            raise ValueError(f"max_relative_drop must be >= 0, got {self.max_relative_drop}")
        if self.min_samples < 2:
            raise ValueError(f"min_samples must be >= 2, got {self.min_samples}")
        if self.primary != "auto" and self.primary not in QUALITY_METRICS:
            raise ValueError(f"primary must be auto or one of {', '.join(QUALITY_METRICS)}")


@dataclass(frozen=True)
class MetricComparison:
    name: str
    kind: str
    higher_is_better: bool
    unit: str
    n_baseline: int
    n_candidate: int
    baseline_mean: float | None
    candidate_mean: float | None
    abs_change: float | None
    rel_change: float | None
    t_stat: float | None
    p_value: float | None
    significant: bool
    status: Status

    @property
    def worse_relative(self) -> float | None:
        """Relative change in the bad direction (positive = worse)."""
        if self.rel_change is None:
            return None
        return -self.rel_change if self.higher_is_better else self.rel_change


@dataclass(frozen=True)
class TriggerCheck:
    name: str
    rule: str
    baseline: float | None
    candidate: float | None
    limit: float
    n_baseline: int
    n_candidate: int
    status: TriggerStatus
    note: str = ""


@dataclass(frozen=True)
class GateResult:
    verdict: Verdict
    reasons: list[str]
    primary_metric: str | None
    config: GateConfig
    n_baseline: int
    n_candidate: int
    metrics: list[MetricComparison] = field(default_factory=list)
    triggers: list[TriggerCheck] = field(default_factory=list)


def _compare(spec: MetricSpec, base: list[float], cand: list[float], config: GateConfig) -> MetricComparison:
    base_mean, cand_mean = mean(base), mean(cand)
    abs_change = None if base_mean is None or cand_mean is None else cand_mean - base_mean
    rel_change = relative_change(base_mean, cand_mean)
    enough = len(base) >= config.min_samples and len(cand) >= config.min_samples
    welch = welch_t_test(base, cand) if enough else None
    t_stat = welch.t_stat if welch else None
    p_value = welch.p_value if welch else None
    significant = p_value is not None and p_value < config.alpha

    comparison = MetricComparison(
        name=spec.name,
        kind=spec.kind,
        higher_is_better=spec.higher_is_better,
        unit=spec.unit,
        n_baseline=len(base),
        n_candidate=len(cand),
        baseline_mean=base_mean,
        candidate_mean=cand_mean,
        abs_change=abs_change,
        rel_change=rel_change,
        t_stat=t_stat,
        p_value=p_value,
        significant=significant,
        status=Status.INSUFFICIENT_DATA,
    )
    if not enough:
        return comparison
    if not significant or abs_change is None or abs_change == 0:
        status = Status.NOT_SIGNIFICANT
    elif (abs_change > 0) == spec.higher_is_better:
        status = Status.BETTER
    else:
        worse = comparison.worse_relative
        if spec.kind == "quality" and worse is not None and worse > config.max_relative_drop:
            status = Status.REGRESSION
        else:
            status = Status.WORSE
    return dataclasses.replace(comparison, status=status)


def _trigger(
    name: str,
    *,
    rule: str,
    base: list[float],
    cand: list[float],
    limit: float,
    config: GateConfig,
    statistic: Callable[[list[float]], float | None],
    crossed: Callable[[float | None, float], bool],
    needs_baseline: bool,
) -> TriggerCheck:
    base_value, cand_value = statistic(base), statistic(cand)
    if cand_value is None or (needs_baseline and base_value is None):
        status, note = TriggerStatus.NO_DATA, "no values"
    elif len(cand) < config.min_samples or (needs_baseline and len(base) < config.min_samples):
        status, note = TriggerStatus.INSUFFICIENT_DATA, f"fewer than {config.min_samples} values"
    elif crossed(base_value, cand_value):
        status, note = TriggerStatus.CROSSED, ""
    else:
        status, note = TriggerStatus.OK, ""
    return TriggerCheck(name, rule, base_value, cand_value, limit, len(base), len(cand), status, note)


def _p99(values: list[float]) -> float | None:
    return percentile(values, 99)


def _check_triggers(
    baseline: Sequence[Sample], candidate: Sequence[Sample], config: GateConfig
) -> list[TriggerCheck]:
    def em_crossed(base: float | None, cand: float) -> bool:
        return base is not None and cand - base <= -EXACT_MATCH_MAX_DROP

    def latency_crossed(base: float | None, cand: float) -> bool:
        return base is not None and base > 0 and cand >= LATENCY_P99_MAX_RATIO * base

    def above(limit: float) -> Callable[[float | None, float], bool]:
        return lambda _base, cand: cand > limit

    em, latency = METRIC_BY_NAME["exact_match"], METRIC_BY_NAME["latency_ms"]
    errors, thumbs = METRIC_BY_NAME["error_rate"], METRIC_BY_NAME["thumbs_down_rate"]
    return [
        _trigger(
            "exact_match_drop",
            rule=f"candidate - baseline <= -{EXACT_MATCH_MAX_DROP:g}",
            base=em.values(baseline),
            cand=em.values(candidate),
            limit=EXACT_MATCH_MAX_DROP,
            config=config,
            statistic=mean,
            crossed=em_crossed,
            needs_baseline=True,
        ),
        _trigger(
            "latency_p99",
            rule=f"p99 >= {LATENCY_P99_MAX_RATIO:g} x baseline p99",
            base=latency.values(baseline),
            cand=latency.values(candidate),
            limit=LATENCY_P99_MAX_RATIO,
            config=config,
            statistic=_p99,
            crossed=latency_crossed,
            needs_baseline=True,
        ),
        _trigger(
            "error_rate",
            rule=f"error rate > {ERROR_RATE_MAX:.0%}",
            base=errors.values(baseline),
            cand=errors.values(candidate),
            limit=ERROR_RATE_MAX,
            config=config,
            statistic=mean,
            crossed=above(ERROR_RATE_MAX),
            needs_baseline=False,
        ),
        _trigger(
            "thumbs_down_rate",
            rule=f"thumbs-down share of ratings > {THUMBS_DOWN_RATE_MAX:.0%}",
            base=thumbs.values(baseline),
            cand=thumbs.values(candidate),
            limit=THUMBS_DOWN_RATE_MAX,
            config=config,
            statistic=mean,
            crossed=above(THUMBS_DOWN_RATE_MAX),
            needs_baseline=False,
        ),
    ]


def _pick_primary(metrics: dict[str, MetricComparison], config: GateConfig) -> str | None:
    if config.primary != "auto":
        return config.primary
    for name in QUALITY_METRICS:
        comparison = metrics.get(name)
        if comparison and comparison.status is not Status.INSUFFICIENT_DATA:
            return name
    return None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _fmt_p(p_value: float | None) -> str:
    """``p=0.0123``, ``p<0.0001`` or ``p=n/a``."""
    if p_value is None:
        return "p=n/a"
    return "p<0.0001" if p_value < 0.0001 else f"p={p_value:.4f}"


def evaluate(
    baseline: Sequence[Sample], candidate: Sequence[Sample], config: GateConfig | None = None
) -> GateResult:
    """Compare ``candidate`` with ``baseline`` and decide the verdict."""
    config = config or GateConfig()
    comparisons: dict[str, MetricComparison] = {}
    for spec in METRICS:
        base, cand = spec.values(baseline), spec.values(candidate)
        if base or cand:  # metrics present in neither file are left out
            comparisons[spec.name] = _compare(spec, base, cand, config)
    triggers = _check_triggers(baseline, candidate, config)
    primary = _pick_primary(comparisons, config)
    reasons = _regressions(comparisons.values(), triggers, config)
    if reasons:
        verdict = Verdict.REGRESSION
    else:
        verdict, reason = _primary_verdict(primary, comparisons.get(primary) if primary else None, config)
        reasons = [reason]
    return GateResult(
        verdict, reasons, primary, config, len(baseline), len(candidate), list(comparisons.values()), triggers
    )


def _regressions(
    comparisons: Iterable[MetricComparison], triggers: Iterable[TriggerCheck], config: GateConfig
) -> list[str]:
    """Why the candidate regressed: each significant regression and each crossed trigger."""
    reasons = [
        f"{c.name} is {c.worse_relative:.1%} worse "
        f"({_fmt(c.baseline_mean)} -> {_fmt(c.candidate_mean)}), "
        f"significant ({_fmt_p(c.p_value)} < {config.alpha:g}), "
        f"limit {config.max_relative_drop:.0%}"
        for c in comparisons
        if c.status is Status.REGRESSION
    ]
    reasons += [
        f"rollback trigger {t.name} crossed: {t.rule} "
        f"(baseline {_fmt(t.baseline)}, candidate {_fmt(t.candidate)})"
        for t in triggers
        if t.status is TriggerStatus.CROSSED
    ]
    return reasons


def _primary_verdict(
    primary: str | None, primary_cmp: MetricComparison | None, config: GateConfig
) -> tuple[Verdict, str]:
    """Without a regression the primary metric decides: approve only when it is significantly better."""
    if primary is None:
        return Verdict.INCONCLUSIVE, (
            f"no quality metric ({', '.join(QUALITY_METRICS)}) has {config.min_samples}+ values on both sides"
        )
    if primary_cmp is None or primary_cmp.status is Status.INSUFFICIENT_DATA:
        n_base = primary_cmp.n_baseline if primary_cmp else 0
        n_cand = primary_cmp.n_candidate if primary_cmp else 0
        return Verdict.INCONCLUSIVE, (
            f"primary metric {primary} has too few values (baseline {n_base}, candidate {n_cand}, "
            f"need {config.min_samples})"
        )
    change = (
        f"{_fmt(primary_cmp.baseline_mean)} -> {_fmt(primary_cmp.candidate_mean)}, "
        f"{_fmt_p(primary_cmp.p_value)}"
    )
    if primary_cmp.status is Status.BETTER:
        return (
            Verdict.APPROVE,
            f"primary metric {primary} is significantly better ({change}) and nothing regressed",
        )
    return Verdict.INCONCLUSIVE, (
        f"no regression, but primary metric {primary} is not significantly better ({change})"
    )
