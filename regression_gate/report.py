"""Render a :class:`~regression_gate.gate.GateResult` as a text table or JSON."""

from __future__ import annotations

import json
import math
from typing import Any

from regression_gate.gate import GateResult, MetricComparison, TriggerCheck

SCHEMA_VERSION = 1


def _num(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a" if value is None else str(value)
    if value != 0 and abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.4g}"


def _signed(value: float | None) -> str:
    return "n/a" if value is None else ("+" if value >= 0 else "") + _num(value)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def _p(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"


def _table(header: list[str], rows: list[list[str]], left: int = 2) -> list[str]:
    """Columns before index ``left`` are left-aligned, the rest right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i < left or i == len(cells) - 1 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(row) for row in rows)]


def _metric_row(m: MetricComparison) -> list[str]:
    direction = "higher" if m.higher_is_better else "lower"
    return [
        m.name,
        f"{m.kind} ({direction} is better)",
        str(m.n_baseline),
        str(m.n_candidate),
        _num(m.baseline_mean),
        _num(m.candidate_mean),
        _signed(m.abs_change),
        _pct(m.rel_change),
        _p(m.p_value),
        m.status.value,
    ]


def _trigger_row(t: TriggerCheck) -> list[str]:
    result = t.status.value + (f" ({t.note})" if t.note and t.status.value not in t.note else "")
    return [
        t.name,
        t.rule,
        str(t.n_baseline),
        str(t.n_candidate),
        _num(t.baseline),
        _num(t.candidate),
        result,
    ]


def render_text(
    result: GateResult, baseline_name: str = "baseline", candidate_name: str = "candidate"
) -> str:
    cfg = result.config
    lines = [
        f"Regression gate: {result.verdict.value}",
        f"baseline:  {baseline_name} ({result.n_baseline} samples)",
        f"candidate: {candidate_name} ({result.n_candidate} samples)",
        f"alpha {cfg.alpha:g} (Welch t-test), quality regression limit {cfg.max_relative_drop:.0%} relative, "
        f"min samples {cfg.min_samples}, primary metric {result.primary_metric or 'none'}",
        "",
        "Metrics (mean per sample)",
    ]
    lines += _table(
        [
            "metric",
            "kind",
            "n base",
            "n cand",
            "baseline",
            "candidate",
            "change",
            "rel.",
            "p-value",
            "result",
        ],
        [_metric_row(m) for m in result.metrics],
    )
    lines += ["", "Rollback triggers"]
    lines += _table(
        ["trigger", "rule", "n base", "n cand", "baseline", "candidate", "result"],
        [_trigger_row(t) for t in result.triggers],
    )
    lines += ["", f"Verdict: {result.verdict.value}"]
    lines += [f"  - {reason}" for reason in result.reasons]
    return "\n".join(lines) + "\n"


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def to_dict(result: GateResult, exit_code: int, baseline_name: str, candidate_name: str) -> dict[str, Any]:
    cfg = result.config
    return {
        "schema_version": SCHEMA_VERSION,
        "verdict": result.verdict.value,
        "exit_code": exit_code,
        "reasons": result.reasons,
        "primary_metric": result.primary_metric,
        "config": {
            "alpha": cfg.alpha,
            "max_relative_drop": cfg.max_relative_drop,
            "min_samples": cfg.min_samples,
            "primary": cfg.primary,
        },
        "baseline": {"file": baseline_name, "samples": result.n_baseline},
        "candidate": {"file": candidate_name, "samples": result.n_candidate},
        "metrics": [
            {
                "name": m.name,
                "kind": m.kind,
                "higher_is_better": m.higher_is_better,
                "unit": m.unit,
                "n_baseline": m.n_baseline,
                "n_candidate": m.n_candidate,
                "baseline_mean": _finite(m.baseline_mean),
                "candidate_mean": _finite(m.candidate_mean),
                "abs_change": _finite(m.abs_change),
                "rel_change": _finite(m.rel_change),
                "t_stat": _finite(m.t_stat),
                "p_value": _finite(m.p_value),
                "significant": m.significant,
                "status": m.status.value,
            }
            for m in result.metrics
        ],
        "triggers": [
            {
                "name": t.name,
                "rule": t.rule,
                "limit": t.limit,
                "n_baseline": t.n_baseline,
                "n_candidate": t.n_candidate,
                "baseline": _finite(t.baseline),
                "candidate": _finite(t.candidate),
                "crossed": t.status.value == "CROSSED",
                "status": t.status.value,
            }
            for t in result.triggers
        ],
    }


def render_json(result: GateResult, exit_code: int, baseline_name: str, candidate_name: str) -> str:
    return (
        json.dumps(to_dict(result, exit_code, baseline_name, candidate_name), indent=2, allow_nan=False)
        + "\n"
    )


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


_VERDICT_MARK = {"REGRESSION": "❌", "APPROVE": "✅", "INCONCLUSIVE": "⚠️"}


def render_markdown(
    result: GateResult, baseline_name: str = "baseline", candidate_name: str = "candidate"
) -> str:
    """A report for a pull-request comment: verdict, per-metric table, rollback triggers."""
    cfg = result.config
    verdict = result.verdict.value
    lines = [
        f"## Prompt gate: {_VERDICT_MARK.get(verdict, '')} {verdict}".replace("  ", " "),
        "",
        f"Baseline `{_cell(baseline_name)}` ({result.n_baseline} samples) against candidate "
        f"`{_cell(candidate_name)}` ({result.n_candidate} samples); Welch t-test at alpha {cfg.alpha:g}, "
        f"a quality metric regresses when it is more than {cfg.max_relative_drop:.0%} worse and significant.",
        "",
        *(f"- {_cell(reason)}" for reason in result.reasons),
        "",
        "### Metrics (mean per sample)",
        "",
        "| metric | kind | n base | n cand | baseline | candidate | change | rel. | p-value | result |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for m in result.metrics:
        row = _metric_row(m)
        row[-1] = f"**{row[-1]}**" if m.status.value == "REGRESSION" else row[-1]
        lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    lines += [
        "",
        "### What would trigger a rollback",
        "",
        "The production alerts roll a prompt back on these four triggers (same thresholds; in production "
        "they are measured over a window of live traffic and must hold for a while, see docs/detection.md). "
        "A crossed trigger here means this change would very likely be rolled back after release.",
        "",
        "| trigger | rollback when | n base | n cand | baseline | candidate | here |",
        "|---|---|--:|--:|--:|--:|---|",
    ]
    for t in result.triggers:
        row = _trigger_row(t)
        row[-1] = f"**{row[-1]}**" if t.status.value == "CROSSED" else row[-1]
        lines.append("| " + " | ".join(_cell(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"
