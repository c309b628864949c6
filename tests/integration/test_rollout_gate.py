"""Gate evidence: `prompt-gate … --record` puts the verdict on the prompt's chain, and a plan with
`require_gate: true` starts only a candidate with a passing gate record (checkpoint 2, on record)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from regression_gate import cli as gate_cli
from tests.integration.test_rollout_controller import PROMPT, Rollouts, small_plan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "gate"


@pytest.fixture
def rollouts(stack, monkeypatch) -> Rollouts:
    return Rollouts(stack, monkeypatch)


def _samples(path: Path, rows: int, exact: float) -> Path:
    lines = [json.dumps({"exact_match": 1.0 if i < rows * exact else 0.0}) for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def gate(tmp_path: Path, version: int, passing: bool, extra: tuple[str, ...] = ()) -> int:
    baseline = _samples(tmp_path / "baseline.jsonl", 200, 0.80)
    candidate = _samples(tmp_path / "candidate.jsonl", 200, 0.95 if passing else 0.60)
    return gate_cli.main(
        ["--baseline", str(baseline), "--candidate", str(candidate), "--record", "--prompt", PROMPT,
         "--version", str(version), *extra]
    )  # fmt: skip


def gated_plan() -> dict:
    return {**small_plan(), "require_gate": True}


def test_a_plan_that_requires_the_gate_refuses_a_candidate_without_a_gate_record(rollouts):
    answer = rollouts.command("start", version=rollouts.candidate, actor="jane", plan=gated_plan())
    assert answer["outcome"] == "error", answer
    assert f"no passing gate record for v{rollouts.candidate}" in answer["answer"]
    assert "prompt-gate" in answer["answer"]  # says how to get one
    assert rollouts.stack.audit(PROMPT) == []
    assert rollouts.stack.label_moves() == 0


def test_a_failing_gate_is_on_record_and_does_not_open_the_gate(rollouts, tmp_path, capsys):
    assert gate(tmp_path, rollouts.candidate, passing=False, extra=("--actor", "ci")) == 1
    [record] = rollouts.stack.audit(PROMPT)
    assert record["kind"] == "gate" and record["to_version"] == rollouts.candidate
    assert record["detail"]["verdict"] == "REGRESSION" and record["detail"]["passed"] is False
    assert record["actor"] == "ci"
    assert "gate verdict recorded" in capsys.readouterr().err

    answer = rollouts.command("start", version=rollouts.candidate, actor="jane", plan=gated_plan())
    assert answer["outcome"] == "error" and "no passing gate record" in answer["answer"]


def test_a_passing_gate_record_lets_the_rollout_start_and_is_named_by_it(rollouts, tmp_path):
    assert gate(tmp_path, rollouts.candidate, passing=True) == 0
    answer = rollouts.command("start", version=rollouts.candidate, actor="jane", plan=gated_plan())
    assert answer["outcome"] == "started", answer
    gate_record, started = rollouts.stack.audit(PROMPT)
    assert started["kind"] == "rollout_started"
    assert started["detail"]["gate"]["seq"] == gate_record["seq"]
    assert started["detail"]["gate"]["hash"] == gate_record["hash"]


def test_a_later_failing_gate_overrides_an_earlier_pass(rollouts, tmp_path):
    assert gate(tmp_path, rollouts.candidate, passing=True) == 0
    assert gate(tmp_path, rollouts.candidate, passing=False) == 1
    answer = rollouts.command("start", version=rollouts.candidate, actor="jane", plan=gated_plan())
    assert answer["outcome"] == "error" and "no passing gate record" in answer["answer"]


def test_a_gate_record_for_another_version_does_not_count(rollouts, tmp_path):
    assert gate(tmp_path, 6, passing=True) == 0
    answer = rollouts.command("start", version=rollouts.candidate, actor="jane", plan=gated_plan())
    assert answer["outcome"] == "error"


def test_the_gate_record_is_in_the_audit(rollouts, tmp_path, capsys):
    from prompt_rollback import cli

    assert gate(tmp_path, rollouts.candidate, passing=True, extra=("--actor", "ci")) == 0
    capsys.readouterr()
    assert cli.main(["audit", "--prompt", PROMPT]) == 0
    out = capsys.readouterr().out
    assert "gate APPROVE" in out and "ci" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--record", "--version", "8"], "--record needs --prompt and --version"),
        (["--record", "--prompt", PROMPT], "--record needs --prompt and --version"),
        (["--record", "--prompt", PROMPT, "--version", "0"], "--version"),
        (["--record", "--prompt", PROMPT, "--version", "x"], "--version"),
        (["--record", "--prompt", "bad\nname", "--version", "8"], "prompt"),
        (["--prompt", PROMPT, "--version", "8"], "--prompt and --version go with --record"),
    ],
)
def test_bad_gate_record_input_is_refused_and_writes_nothing(stack, capsys, argv, expected):
    files = ["--baseline", str(EXAMPLES / "baseline.jsonl"), "--candidate", str(EXAMPLES / "candidate.jsonl")]
    with pytest.raises(SystemExit) as exited:
        gate_cli.main([*files, *argv])
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err
    assert stack.audit(PROMPT) == []


def test_recording_without_an_audit_table_says_so_and_exits_2(stack, monkeypatch, capsys):
    monkeypatch.delenv("AUDIT_TABLE_NAME")
    from prompt_rollback import wiring

    wiring.reset()
    files = ["--baseline", str(EXAMPLES / "baseline.jsonl"), "--candidate", str(EXAMPLES / "candidate.jsonl")]
    code = gate_cli.main([*files, "--record", "--prompt", PROMPT, "--version", "8"])
    assert code == 2
    assert "AUDIT_TABLE_NAME" in capsys.readouterr().err
