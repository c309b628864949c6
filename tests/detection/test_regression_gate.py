"""Tests of the regression gate CLI (python -m regression_gate) on generated data."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from regression_gate import GateConfig, Verdict, evaluate, load_samples
from regression_gate.cli import main
from regression_gate.loader import InputError, Sample
from regression_gate.stats import percentile, welch_t_test

REPO_ROOT = Path(__file__).resolve().parents[2]


def synth(
    rng: np.random.Generator,
    n: int,
    *,
    em: float = 0.80,
    latency_ms: float = 800.0,
    error_rate: float = 0.0,
    rated: float = 0.3,
    down: float = 0.10,
) -> list[dict[str, Any]]:
    """n samples: exact match ~ Bernoulli(em), f1 and judge score correlated with it,
    log-normal latency, cost, errors and thumbs feedback on a share `rated` of samples."""
    samples: list[dict[str, Any]] = []
    for i in range(n):
        hit = bool(rng.random() < em)
        sample: dict[str, Any] = {
            "id": f"q{i}",
            "input": "ignored by the gate",
            "exact_match": hit,
            "f1": float(np.clip(rng.normal(0.9 if hit else 0.4, 0.1), 0.0, 1.0)),
            "judge_score": float(np.clip(rng.normal(4.5 if hit else 2.5, 0.5), 1.0, 5.0)),
            "latency_ms": float(rng.lognormal(math.log(latency_ms), 0.25)),
            "cost_usd": float(abs(rng.normal(0.002, 0.0002))),
            "error": bool(rng.random() < error_rate),
        }
        if rng.random() < rated:
            sample["feedback"] = "down" if rng.random() < down else "up"
        samples.append(sample)
    return samples


def write_jsonl(path: Path, samples: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(s) + "\n" for s in samples), encoding="utf-8")
    return path


def run_gate(
    tmp_path: Path,
    baseline: list[dict[str, Any]],
    candidate: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    *extra: str,
) -> tuple[int, dict[str, Any]]:
    base = write_jsonl(tmp_path / "base.jsonl", baseline)
    cand = write_jsonl(tmp_path / "new.jsonl", candidate)
    code = main(["--baseline", str(base), "--candidate", str(cand), "--format", "json", *extra])
    report = json.loads(capsys.readouterr().out)
    assert report["exit_code"] == code
    return code, report


def metric(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in report["metrics"] if m["name"] == name)


def trigger(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in report["triggers"] if t["name"] == name)


def crossed(report: dict[str, Any]) -> set[str]:
    return {t["name"] for t in report["triggers"] if t["crossed"]}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)


# --------------------------------------------------------------------------- verdicts


def test_clear_regression(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = run_gate(tmp_path, synth(rng, 400, em=0.80), synth(rng, 400, em=0.62), capsys)
    assert code == 1
    assert report["verdict"] == "REGRESSION"
    em = metric(report, "exact_match")
    assert em["status"] == "REGRESSION"
    assert em["significant"] and em["p_value"] < 0.05
    assert em["rel_change"] < -0.05
    assert "exact_match_drop" in crossed(report)
    assert any(r.startswith("exact_match is") for r in report["reasons"])


def test_clear_improvement(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = run_gate(tmp_path, synth(rng, 400, em=0.62), synth(rng, 400, em=0.80), capsys)
    assert code == 0
    assert report["verdict"] == "APPROVE"
    assert report["primary_metric"] == "exact_match"
    assert metric(report, "exact_match")["status"] == "better"
    assert crossed(report) == set()


def test_noise_is_inconclusive(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline, candidate = synth(rng, 600), synth(rng, 600)  # same distribution
    code, report = run_gate(tmp_path, baseline, candidate, capsys)
    assert code == 0
    assert report["verdict"] == "INCONCLUSIVE"
    assert metric(report, "exact_match")["p_value"] > 0.05
    assert crossed(report) == set()

    code, report = run_gate(tmp_path, baseline, candidate, capsys, "--strict")
    assert (code, report["verdict"]) == (3, "INCONCLUSIVE")


def test_improvement_on_primary_but_trigger_crossed_is_regression(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = run_gate(
        tmp_path, synth(rng, 400, em=0.62), synth(rng, 400, em=0.80, error_rate=0.12), capsys
    )
    assert (code, report["verdict"]) == (1, "REGRESSION")
    assert metric(report, "exact_match")["status"] == "better"
    assert crossed(report) == {"error_rate"}


# --------------------------------------------------------------------------- rollback triggers


def _scaled_latency(samples: list[dict[str, Any]], factor: float) -> list[dict[str, Any]]:
    return [{**s, "latency_ms": s["latency_ms"] * factor} for s in samples]


def test_latency_trigger(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = synth(rng, 300)
    # Same answers, twice as slow: only the latency trigger can fire.
    code, report = run_gate(tmp_path, baseline, _scaled_latency(baseline, 2.0), capsys)
    assert (code, report["verdict"]) == (1, "REGRESSION")
    assert crossed(report) == {"latency_p99"}
    t = trigger(report, "latency_p99")
    assert t["candidate"] == pytest.approx(2.0 * t["baseline"])
    assert metric(report, "latency_ms")["status"] == "worse"
    assert len(report["reasons"]) == 1 and "latency_p99" in report["reasons"][0]


def test_latency_just_under_trigger(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = synth(rng, 300)
    code, report = run_gate(tmp_path, baseline, _scaled_latency(baseline, 1.45), capsys)
    assert (code, report["verdict"]) == (0, "INCONCLUSIVE")
    assert trigger(report, "latency_p99")["status"] == "ok"


def _with_errors(samples: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    return [{**s, "error": i < count} for i, s in enumerate(samples)]


@pytest.mark.parametrize(("errors", "fires"), [(16, True), (10, False)])  # 8 % and 5 % of 200
def test_error_rate_trigger(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str], errors: int, fires: bool
) -> None:
    baseline = synth(rng, 200)
    code, report = run_gate(tmp_path, baseline, _with_errors(baseline, errors), capsys)
    assert trigger(report, "error_rate")["candidate"] == pytest.approx(errors / 200)
    assert trigger(report, "error_rate")["crossed"] is fires
    assert (code, report["verdict"]) == ((1, "REGRESSION") if fires else (0, "INCONCLUSIVE"))


def _with_feedback(samples: list[dict[str, Any]], down: int, up: int) -> list[dict[str, Any]]:
    ratings = ["down"] * down + ["up"] * up
    return [
        {
            **{k: v for k, v in s.items() if k != "feedback"},
            **({"feedback": ratings[i]} if i < len(ratings) else {}),
        }
        for i, s in enumerate(samples)
    ]


@pytest.mark.parametrize(
    ("down", "up", "status"),
    [(25, 75, "CROSSED"), (19, 81, "ok"), (5, 5, "insufficient data")],  # 25 %, 19 %, 50 % of only 10
)
def test_thumbs_down_trigger(
    tmp_path: Path,
    rng: np.random.Generator,
    capsys: pytest.CaptureFixture[str],
    down: int,
    up: int,
    status: str,
) -> None:
    baseline = synth(rng, 200)
    code, report = run_gate(tmp_path, baseline, _with_feedback(baseline, down, up), capsys)
    assert trigger(report, "thumbs_down_rate")["status"] == status
    assert code == (1 if status == "CROSSED" else 0)


def test_exact_match_drop_trigger_needs_no_significance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = [{"exact_match": i < 32} for i in range(40)]  # 0.800
    candidate = [{"exact_match": i < 29} for i in range(40)]  # 0.725
    code, report = run_gate(tmp_path, baseline, candidate, capsys)
    assert metric(report, "exact_match")["significant"] is False
    assert crossed(report) == {"exact_match_drop"}
    assert (code, report["verdict"]) == (1, "REGRESSION")


def test_quality_drop_under_five_percent_is_not_a_regression(rng: np.random.Generator) -> None:
    """Significant but small (~2 %) drop of a secondary metric: reported as worse, no regression."""
    base = [Sample(exact_match=float(i % 2), judge_score=4.0 + rng.normal(0, 0.05)) for i in range(500)]
    cand = [replace(s, judge_score=(s.judge_score or 0) * 0.98) for s in base]
    result = evaluate(base, cand)
    judge = next(m for m in result.metrics if m.name == "judge_score")
    assert judge.significant
    assert judge.status.value == "worse"
    assert result.verdict is Verdict.INCONCLUSIVE


def test_too_few_samples_is_inconclusive(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = run_gate(tmp_path, synth(rng, 10, em=0.2), synth(rng, 10, em=0.9), capsys)
    assert (code, report["verdict"]) == (0, "INCONCLUSIVE")
    assert metric(report, "exact_match")["status"] == "insufficient data"
    assert "too few" in report["reasons"][0] or "no quality metric" in report["reasons"][0]


def test_primary_metric_option(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = [{k: v for k, v in s.items() if k != "exact_match"} for s in synth(rng, 300, em=0.6)]
    candidate = [{k: v for k, v in s.items() if k != "exact_match"} for s in synth(rng, 300, em=0.8)]
    code, report = run_gate(tmp_path, baseline, candidate, capsys)  # auto: exact_match absent -> f1
    assert (code, report["verdict"], report["primary_metric"]) == (0, "APPROVE", "f1")
    code, report = run_gate(tmp_path, baseline, candidate, capsys, "--primary", "judge_score")
    assert (code, report["verdict"], report["primary_metric"]) == (0, "APPROVE", "judge_score")


# --------------------------------------------------------------------------- reports and formats


def test_text_report(tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]) -> None:
    base = write_jsonl(tmp_path / "base.jsonl", synth(rng, 300))
    cand = write_jsonl(tmp_path / "new.jsonl", _scaled_latency(synth(rng, 300, em=0.6), 2.0))
    code = main(["--baseline", str(base), "--candidate", str(cand)])
    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith("Regression gate: REGRESSION\n")
    for text in (
        "metric",
        "p-value",
        "exact_match",
        "latency_ms",
        "Rollback triggers",
        "CROSSED",
        "Verdict:",
    ):
        assert text in out
    header = next(line for line in out.splitlines() if line.startswith("metric "))
    rule = out.splitlines()[out.splitlines().index(header) + 1]
    assert set(rule) <= {"-", " "}  # a table: header, dashes, rows


def test_json_report_is_strict_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Constant data: zero variance, zero baseline mean (rel_change undefined) -> nulls, never NaN.
    baseline = [{"exact_match": 0, "latency_ms": 0, "error": False}] * 30
    code, report = run_gate(tmp_path, baseline, baseline, capsys)
    assert code == 0
    assert metric(report, "exact_match")["rel_change"] is None
    assert trigger(report, "latency_p99")["crossed"] is False
    json.dumps(report, allow_nan=False)
    assert set(report) >= {"verdict", "exit_code", "reasons", "metrics", "triggers", "config"}


def test_json_array_object_and_jsonl_inputs_agree(tmp_path: Path, rng: np.random.Generator) -> None:
    samples = synth(rng, 50)
    (tmp_path / "a.json").write_text(json.dumps(samples), encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps({"samples": samples, "model": "x"}), encoding="utf-8")
    write_jsonl(tmp_path / "c.jsonl", samples)
    write_jsonl(tmp_path / "d.txt", samples)  # JSON Lines without the suffix
    loaded = [load_samples(tmp_path / name) for name in ("a.json", "b.json", "c.jsonl", "d.txt")]
    assert all(x == loaded[0] for x in loaded)
    assert len(loaded[0]) == 50


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"exact_match": 1}\n{"exact_match": \n', "line 2: invalid JSON"),
        ("[1, 2]", "sample 1: expected a JSON object"),
        ('{"samples": {"exact_match": 1}}', "expected a JSON array"),
        ('{"results": []}', '"samples" array'),
        ('[{"exact_match": 2}]', "exact_match must be 0, 1, true or false"),
        ('[{"f1": 1.5}]', "f1 must be in [0, 1]"),
        ('[{"f1": "0.5"}]', "f1 must be a number"),
        ('[{"latency_ms": -3}]', "latency_ms must be >= 0"),
        ('[{"judge_score": NaN}]', "NaN is not allowed"),
        ('[{"feedback": "meh"}]', 'feedback must be "up", "down" or null'),
        ('[{"error": 2.5}]', "error must be"),
        ('[{"id": "q1", "exactMatch": 1}]', "has none of the fields"),
        ("", "empty file, no samples"),
        ("[]", "no samples"),
        ("\n\n", "no samples"),
    ],
)
def test_malformed_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    good = write_jsonl(tmp_path / "base.jsonl", [{"exact_match": 1}] * 5)
    bad = tmp_path / "new.json"
    bad.write_text(content, encoding="utf-8")
    code = main(["--baseline", str(good), "--candidate", str(bad)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith("regression_gate: error: ")
    assert str(bad) in captured.err
    assert message in captured.err


def test_missing_file_and_bad_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_jsonl(tmp_path / "base.jsonl", [{"exact_match": 1}] * 5)
    assert main(["--baseline", str(good), "--candidate", str(tmp_path / "nope.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "latin1.jsonl").write_bytes(b'{"exact_match": 1, "id": "\xe9"}\n')
    assert main(["--baseline", str(good), "--candidate", str(tmp_path / "latin1.jsonl")]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert main(["--baseline", str(good), "--candidate", str(good), "--primary", "f1"]) == 2
    assert "no f1 values" in capsys.readouterr().err
    for argv in (
        ["--baseline", str(good)],
        ["--baseline", str(good), "--candidate", str(good), "--alpha", "1.5"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    capsys.readouterr()


def test_load_samples_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        load_samples(tmp_path)


# --------------------------------------------------------------------------- statistics


def test_welch_matches_scipy(rng: np.random.Generator) -> None:
    a, b = rng.normal(0, 1, 50).tolist(), rng.normal(0.5, 2, 80).tolist()
    expected = stats.ttest_ind(b, a, equal_var=False)
    result = welch_t_test(a, b)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert result.t_stat == pytest.approx(expected.statistic)
    assert (result.t_stat or 0) > 0  # positive when the candidate mean is higher


def test_welch_edge_cases() -> None:
    assert welch_t_test([1.0], [1.0, 2.0]).p_value is None
    assert welch_t_test([1.0] * 5, [1.0] * 5).p_value == 1.0
    assert welch_t_test([1.0] * 5, [0.0] * 5).p_value == 0.0
    assert percentile([], 99) is None
    assert percentile(list(range(101)), 99) == pytest.approx(99.0)


def test_gate_config_validation() -> None:
    with pytest.raises(ValueError, match="alpha"):
        GateConfig(alpha=0)
    with pytest.raises(ValueError, match="primary"):
        GateConfig(primary="bleu")


def test_python_dash_m(tmp_path: Path, rng: np.random.Generator) -> None:
    base = write_jsonl(tmp_path / "base.jsonl", synth(rng, 300, em=0.80))
    cand = write_jsonl(tmp_path / "new.jsonl", synth(rng, 300, em=0.60))
    result = subprocess.run(
        [sys.executable, "-m", "regression_gate", "--baseline", str(base), "--candidate", str(cand)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Regression gate: REGRESSION" in result.stdout
