"""The auditor's questions, answered by the CLI from the ledger (moto): audit, history, verify."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import boto3
import pytest
from prompt_rollback import cli, wiring
from prompt_rollback.changes.recorder import ChangeRecorder
from prompt_rollback.domain.langfuse_events import PromptVersionEvent

from tests.integration.conftest import Stack, reset_wiring
from tests.integration.ledger_stream import run_anchors
from tests.langfuse_webhooks import prompt_event

FA = "financial-analysis"


def record_move(at: datetime, event_id: str, to: int, loser: int | None, who: str, message: str = "") -> None:
    """A person's move as Langfuse reports it, recorded at the time it happened."""
    recorder = ChangeRecorder(wiring.audit_ledger(), clock=lambda: at)
    user = {"name": who.split("@", maxsplit=1)[0], "email": who}
    gainer = prompt_event(event_id, FA, to, ["production"], changed_at=at, user=user, commit_message=message)
    recorder.record_langfuse(PromptVersionEvent.model_validate(gainer))
    if loser is not None:
        lost = prompt_event(event_id + "-l", FA, loser, [], changed_at=at, user=user)
        recorder.record_langfuse(PromptVersionEvent.model_validate(lost))


@pytest.fixture
def history(stack: Stack) -> Stack:
    record_move(datetime(2026, 4, 16, 9, 0, tzinfo=UTC), "evt_01", 5, None, "alice@example.com", "baseline")
    record_move(
        datetime(2026, 4, 17, 14, 12, 31, tzinfo=UTC), "evt_02", 6, 5, "bob@example.com", "shorter answers"
    )
    record_move(datetime(2026, 4, 17, 15, 30, tzinfo=UTC), "evt_03", 7, 6, "carol@example.com", "new model")
    return stack


def test_who_deployed_v6_between_14_and_15_is_one_command(history: Stack, capsys):
    args = [
        "audit",
        "--prompt",
        FA,
        "--since",
        "2026-04-17T14:00Z",
        "--until",
        "2026-04-17T15:00Z",
        "--version",
        "6",
    ]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("1 changes and decisions for 'financial-analysis' v6")
    [row] = [line for line in out.splitlines() if line.startswith("2026-04-17T14:12:31Z")]
    assert "bob@example.com" in row and "v5" in row and "v6" in row and "shorter answers" in row
    assert "carol" not in out  # 15:30 is outside the window


def test_csv_and_json_formats(history: Stack, capsys):
    assert (
        cli.main(
            [
                "audit",
                "--prompt",
                FA,
                "--since",
                "2026-04-01T00:00Z",
                "--until",
                "2026-05-01T00:00Z",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["from"], r["to"], r["who"]) for r in rows] == [
        ("", "v5", "alice@example.com"),
        ("v5", "v6", "bob@example.com"),
        ("v6", "v7", "carol@example.com"),
    ]
    assert (
        cli.main(
            [
                "audit",
                "--prompt",
                FA,
                "--since",
                "2026-04-01T00:00Z",
                "--until",
                "2026-05-01T00:00Z",
                "--format",
                "json",
            ]
        )
        == 0
    )
    records = json.loads(capsys.readouterr().out)
    assert [r["source_event_ids"] for r in records] == [["evt_01"], ["evt_02"], ["evt_03"]]


def test_history_prints_who_held_production_from_when_to_when(history: Stack, capsys):
    assert cli.main(["history", "--prompt", FA, "--format", "json"]) == 0
    tenures = json.loads(capsys.readouterr().out)
    assert [(t["version"], t["since"], t["until"], t["put there by"]) for t in tenures] == [
        ("v5", "2026-04-16T09:00:00Z", "2026-04-17T14:12:31Z", "alice@example.com"),
        ("v6", "2026-04-17T14:12:31Z", "2026-04-17T15:30:00Z", "bob@example.com"),
        ("v7", "2026-04-17T15:30:00Z", "now", "carol@example.com"),
    ]


def test_verify_reports_a_cut_chain_end_and_a_missing_prompt_with_a_non_zero_exit(stack: Stack, capsys):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="anchors", ObjectLockEnabledForBucket=True)
    stack.monkeypatch.setenv("ANCHOR_BUCKET_NAME", "anchors")
    reset_wiring()
    record_move(datetime(2026, 4, 16, 9, 0, tzinfo=UTC), "evt_01", 5, None, "alice@example.com")
    record_move(datetime(2026, 4, 17, 14, 12, tzinfo=UTC), "evt_02", 6, 5, "bob@example.com")
    run_anchors(stack.resources.audit_table)
    assert cli.main(["verify", "--prompt", FA]) == 0
    assert "2 records, head anchored at seq 2, chain intact" in capsys.readouterr().out
    boto3.resource("dynamodb").Table(stack.resources.audit_table).delete_item(
        Key={"prompt_key": f"langfuse#{FA}", "seq": 2}
    )
    assert cli.main(["verify", "--prompt", FA]) == 1
    assert "chain truncated: anchored up to seq 2, table ends at 1" in capsys.readouterr().out
    assert cli.main(["verify", "--prompt", "financial-analysys"]) == 1
    assert "no such prompt" in capsys.readouterr().out


def test_adopt_records_production_as_first_seen_once_so_the_next_moves_from_is_known(stack: Stack, capsys):
    assert cli.main(["adopt", "--prompt", "support-answer", "--actor", "jane", "--format", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["production"], first["status"], first["seq"]) == (7, "recorded", 1)
    assert cli.main(["adopt", "--prompt", "support-answer", "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["status"], again["seq"]) == ("ignored", None)
    [observed] = stack.audit()
    assert (observed["change"], observed["to_version"], observed["actor"]) == (
        "observed",
        7,
        "prompt-rollback adopt (jane)",
    )
    # A person then moves v7 -> v5; only the gainer's event arrives: its `from` is v7, not unknown.
    recorder = ChangeRecorder(wiring.audit_ledger())
    gainer = prompt_event("evt_adopt", "support-answer", 5, ["production"], user={"name": "bob"})
    recorder.record_langfuse(PromptVersionEvent.model_validate(gainer))
    assert [(r["from_version"], r["to_version"]) for r in stack.audit()] == [(None, 7), (7, 5)]
    assert cli.main(["history", "--prompt", "support-answer", "--format", "json"]) == 0
    tenures = json.loads(capsys.readouterr().out)
    assert [(t["version"], t["how"]) for t in tenures] == [("v7", "observed"), ("v5", "moved")]


def test_verify_lists_unanchored_records_and_checks_every_prompt_with_all(stack: Stack, capsys):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="anchors", ObjectLockEnabledForBucket=True)
    stack.monkeypatch.setenv("ANCHOR_BUCKET_NAME", "anchors")
    reset_wiring()
    record_move(datetime(2026, 4, 16, 9, 0, tzinfo=UTC), "evt_01", 5, None, "alice@example.com")
    recorder = ChangeRecorder(wiring.audit_ledger())
    recorder.record_langfuse(
        PromptVersionEvent.model_validate(prompt_event("evt_b1", "billing", 2, ["production"]))
    )
    run_anchors(stack.resources.audit_table)
    # The anchors function has not seen the next changes: nothing outside the table vouches for them.
    record_move(datetime(2026, 4, 17, 14, 12, tzinfo=UTC), "evt_02", 6, 5, "bob@example.com")
    recorder.record_langfuse(
        PromptVersionEvent.model_validate(prompt_event("evt_b2", "billing", 3, ["production"]))
    )

    assert cli.main(["verify", "--prompt", FA]) == 1
    out = capsys.readouterr().out
    assert "seq 2: not anchored (recorded 2026-04-17T14:12:00.000000Z)" in out
    assert "2 records, head anchored at seq 1, 1 problems" in out
    # Just recorded: on its way (the stream consumer retries), listed but not yet a finding.
    assert cli.main(["verify", "--prompt", "billing"]) == 0
    assert (
        "seq 2-2 not anchored yet (recorded in the last 15 minutes), chain intact" in capsys.readouterr().out
    )

    assert cli.main(["verify", "--all"]) == 1
    out = capsys.readouterr().out
    assert f"langfuse#{FA}: seq 2: not anchored" in out
    assert "langfuse#billing: 2 records, head anchored at seq 1" in out
    assert f"2 prompts, 1 with problems: langfuse#{FA}" in out
    run_anchors(stack.resources.audit_table)
    assert cli.main(["verify", "--all"]) == 0
    assert "2 prompts, 0 with problems" in capsys.readouterr().out
