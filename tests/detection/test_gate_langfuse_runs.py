"""prompt-gate on a pair of runs of one Langfuse dataset, read through the real `langfuse` SDK
from the Langfuse-compatible store, and its Markdown report for a pull-request comment."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from langfuse.api.client import LangfuseAPI

from local_mode.langfuse_server import LangfuseCompatibleServer
from regression_gate.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_REGRESSION, main
from regression_gate.langfuse_runs import load_run

DATASET = "support-eval"
ITEMS = 150  # more than one page of experiment items (100)


@pytest.fixture
def langfuse(monkeypatch) -> Iterator[LangfuseCompatibleServer]:
    with LangfuseCompatibleServer() as server:
        server.experiments.create_dataset(DATASET)
        monkeypatch.setenv("LANGFUSE_HOST", server.url)
        monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", server.public_key)
        monkeypatch.setenv("LANGFUSE_SECRET_KEY", server.secret_key)
        yield server


def run(server, name, exact_rate, latency_ms=800.0, cost=0.002, seed=1, errors=0.0):
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=2)
    for index in range(ITEMS):
        server.experiments.add_item_result(
            DATASET,
            name,
            f"item-{index}",
            start + timedelta(seconds=index),
            latency_ms=latency_ms * rng.uniform(0.8, 1.2),
            scores={"exact_match": rng.random() < exact_rate, "judge_score": rng.uniform(3, 5)},
            cost_usd=cost,
            level="ERROR" if rng.random() < errors else "DEFAULT",
        )


def api(server) -> LangfuseAPI:
    return LangfuseAPI(base_url=server.url, username=server.public_key, password=server.secret_key)


def test_a_run_reads_per_item_scores_latency_and_cost(langfuse):
    run(langfuse, "v6", exact_rate=0.9, latency_ms=1000.0, cost=0.003)
    run(langfuse, "v7", exact_rate=0.5, seed=2)

    samples = load_run(api(langfuse), DATASET, "v6")

    assert len(samples) == ITEMS  # both pages, and none of v7's items
    assert all(s.cost_usd == pytest.approx(0.003) for s in samples)
    assert all(800 <= (s.latency_ms or 0) <= 1200 for s in samples)
    assert sum(s.exact_match or 0 for s in samples) / ITEMS > 0.8
    assert all(s.judge_score is not None for s in samples)


def test_markdown_report_of_a_regressed_run_for_the_pr(langfuse, capsys):
    run(langfuse, "v6", exact_rate=0.9)
    run(langfuse, "v7", exact_rate=0.6, seed=2)

    code = main(
        [
            "--langfuse-dataset",
            DATASET,
            "--baseline-run",
            "v6",
            "--candidate-run",
            "v7",
            "--format",
            "markdown",
        ]
    )

    report = capsys.readouterr().out
    assert code == EXIT_REGRESSION
    assert report.startswith("## Prompt gate: ❌ REGRESSION")
    assert f"`{DATASET} / v6` ({ITEMS} samples)" in report
    assert "| metric | kind | n base | n cand |" in report
    assert "| exact_match |" in report and "**REGRESSION**" in report
    assert "### What would trigger a rollback" in report
    assert "| exact_match_drop |" in report and "**CROSSED**" in report
    assert "| cost_usd |" in report


def test_an_equal_run_passes(langfuse, capsys):
    run(langfuse, "v6", exact_rate=0.85)
    run(langfuse, "v6b", exact_rate=0.85)
    assert (
        main(
            [
                "--langfuse-dataset",
                DATASET,
                "--baseline-run",
                "v6",
                "--candidate-run",
                "v6b",
                "--format",
                "markdown",
            ]
        )
        == EXIT_OK
    )
    assert "REGRESSION" not in capsys.readouterr().out.splitlines()[0]


def test_a_missing_run_or_dataset_is_bad_input(langfuse, capsys):
    run(langfuse, "v6", exact_rate=0.9)
    assert (
        main(["--langfuse-dataset", DATASET, "--baseline-run", "v6", "--candidate-run", "nope"])
        == EXIT_BAD_INPUT
    )
    assert "has no run 'nope'" in capsys.readouterr().err
    assert (
        main(["--langfuse-dataset", "other", "--baseline-run", "a", "--candidate-run", "b"]) == EXIT_BAD_INPUT
    )
    assert "no dataset 'other'" in capsys.readouterr().err


def test_files_and_runs_do_not_mix(langfuse, tmp_path):
    with pytest.raises(SystemExit) as raised:
        main(
            [
                "--baseline",
                str(tmp_path / "a.jsonl"),
                "--langfuse-dataset",
                DATASET,
                "--baseline-run",
                "a",
                "--candidate-run",
                "b",
            ]
        )
    assert raised.value.code == 2
