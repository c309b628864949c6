"""The rollout controller through the worker handler: moto (ledger, queue), the Langfuse-compatible
server through the real SDK (labels, metrics v2). Ticks travel the FIFO queue as the scheduler puts them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from prompt_rollback.domain import timeline
from prompt_rollback.domain.requests import message_group_id
from prompt_rollback.rollout import wiring as rollout_wiring

from local_mode.langfuse_metrics import VersionTraffic, seed_version_traffic

PROMPT = "support-answer"
T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
GOOD = {"exact_match_rate": 0.90, "error_rate": 0.002, "latency_ms": 800.0}
BAD = {"exact_match_rate": 0.85, "error_rate": 0.05, "latency_ms": 900.0}


def small_plan() -> dict[str, Any]:
    """The default plan's shape (approvals at 5 % and 50 %), with sample sizes a test can seed."""
    step = {"min_duration": "PT10M", "max_duration": "PT2H", "min_samples_per_arm": 200}
    limits = {"latency_min_samples": 200}
    return {
        "steps": [
            {**step, "share": 5, "analysis": limits, "approval": {"approvers": ["sre"]}},
            {**step, "share": 25, "analysis": limits},
            {**step, "share": 50, "analysis": limits, "approval": {"approvers": ["product-owner"]}},
            {"share": 100},
        ],
        "bake": {
            "duration": "PT30M",
            "triggers": [{"metric": "error_rate", "above": 0.03, "min_samples": 50}],
        },
        "notes": {"intent": "shorter answers", "ticket": "CHG-1"},
    }


class Rollouts:
    def __init__(self, stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.stack = stack
        self.now = T0
        monkeypatch.setattr(rollout_wiring, "now", lambda: self.now)
        self.candidate = int(
            stack.langfuse.store.create(PROMPT, "Be brief and kind. {{question}}")["version"]
        )

    def command(self, command: str, **fields: Any) -> dict[str, Any]:
        return self.stack.invoke_worker({"rollout": {"command": command, "prompt_name": PROMPT, **fields}})

    def status(self) -> dict[str, Any]:
        return self.command("status")["rollout"]

    def traffic(
        self, minutes: int, share: int, candidate: dict[str, float], stable_count: int = 1000
    ) -> None:
        """Both arms over the next `minutes`, the candidate with `share` of the requests; time moves on."""
        start, end = self.now, self.now + timedelta(minutes=minutes)
        candidate_count = max(stable_count * share // (100 - share), 250)
        for version, count, kind in ((7, stable_count, GOOD), (self.candidate, candidate_count, candidate)):
            traffic = VersionTraffic(version=version, generations=count, **kind)
            seed_version_traffic(self.stack.langfuse.metrics, traffic, start, end, prompt_name=PROMPT)
        self.now = end

    def tick(self) -> dict[str, Any]:
        """The tick the rollout waits for, through the FIFO queue, as its schedule would put it."""
        status = self.status()
        body = {
            "message_type": "rollout_tick",
            "provider": "langfuse",
            "prompt_name": PROMPT,
            "rollout_id": status["rollout_id"],
            "step": status["step"],
            "tick": self.next_tick(),
        }
        boto3.client("sqs").send_message(
            QueueUrl=self.stack.resources.queue_url,
            MessageBody=json.dumps(body),
            MessageGroupId=message_group_id("langfuse", PROMPT),
        )
        self.stack.drain()
        return body

    def next_tick(self) -> int:
        records = [r for r in self.stack.audit(PROMPT) if r.get("rollout_id")]
        return int(records[-1]["next_tick"])

    def labels(self, version: int) -> list[str]:
        found = self.stack.langfuse.store.get(PROMPT, version=version)
        return list(found["labels"])

    def kinds(self) -> list[str]:
        return [r["kind"] for r in self.stack.audit(PROMPT) if r.get("rollout_id")]


@pytest.fixture
def rollouts(stack, monkeypatch) -> Rollouts:
    return Rollouts(stack, monkeypatch)


def test_a_good_candidate_reaches_100_percent_after_two_approvals_and_bakes(rollouts):
    started = rollouts.command("start", version=rollouts.candidate, actor="jane", plan=small_plan())
    assert started["outcome"] == "started", started
    assert {"canary", "canary-5"} <= set(rollouts.labels(rollouts.candidate))
    assert rollouts.stack.production(PROMPT) == 7

    rollouts.traffic(15, 5, GOOD)
    rollouts.tick()
    waiting = rollouts.status()
    assert waiting["state"] == "waiting_approval", waiting
    assert "sre" in waiting["waiting_for"]
    assert waiting["analysis"]["outcome"] == "pass"

    refused = rollouts.command("approve", actor="mallory")
    assert refused["outcome"] == "refused" and "not allowed" in refused["answer"]
    assert rollouts.status()["share"] == 5
    approved = rollouts.command("approve", actor="sre")
    assert approved["rollout"]["share"] == 25 and "canary-25" in rollouts.labels(rollouts.candidate)

    rollouts.traffic(15, 25, GOOD)
    rollouts.tick()
    assert rollouts.status()["share"] == 50  # no checkpoint at 25 %
    rollouts.traffic(15, 50, GOOD)
    rollouts.tick()
    assert rollouts.status()["state"] == "waiting_approval"
    promoted = rollouts.command("approve", actor="product-owner")
    assert promoted["rollout"]["state"] == "baking"
    assert rollouts.stack.production(PROMPT) == rollouts.candidate

    rollouts.traffic(31, 99, GOOD)
    rollouts.tick()
    final = rollouts.status()
    assert final["state"] == "promoted" and final["share"] == 100
    assert rollouts.kinds() == [
        "rollout_started", "analysis", "approval_requested", "rejected", "approved", "step",
        "analysis", "step", "analysis", "approval_requested", "approved", "promoted", "analysis", "baked",
    ]  # fmt: skip

    # The auditor's question: who approved v8 going to 100 %, and when?
    records = rollouts.stack.audit(PROMPT)
    entries = timeline.entries(records)
    approvals = [e for e in entries if e.kind == "rollout" and e.what.startswith("approved")]
    assert [(e.who, e.what) for e in approvals] == [
        ("sre", "approved 5 %"),
        ("product-owner", "approved 50 %"),
    ]
    assert [e.what for e in entries if e.moves_production][-1] == "promoted"


def test_a_bad_candidate_is_aborted_at_5_percent_and_stable_keeps_production(rollouts):
    rollouts.command("start", version=rollouts.candidate, actor="jane", plan=small_plan())
    rollouts.traffic(15, 5, BAD)
    rollouts.tick()

    status = rollouts.status()
    assert status["state"] == "aborted" and status["share"] == 0
    assert "analysis failed" in status["reason"] and "error_rate" in status["reason"]
    assert "canary" in rollouts.labels(7)  # both arms are stable now
    assert "canary" not in rollouts.labels(rollouts.candidate)
    assert rollouts.stack.production(PROMPT) == 7


def test_a_redelivered_tick_changes_nothing_twice(rollouts):
    rollouts.command("start", version=rollouts.candidate, actor="jane", plan=small_plan())
    rollouts.traffic(15, 5, GOOD)
    body = rollouts.tick()
    before = rollouts.stack.audit(PROMPT)

    # The same tick again, as SQS or the scheduler may deliver it.
    boto3.client("sqs").send_message(
        QueueUrl=rollouts.stack.resources.queue_url,
        MessageBody=json.dumps(body) + " ",  # content-based deduplication would drop an identical body
        MessageGroupId=message_group_id("langfuse", PROMPT),
    )
    rollouts.stack.drain()
    assert rollouts.stack.audit(PROMPT) == before


def test_an_approval_that_meets_another_write_is_decided_again_after_it(rollouts, monkeypatch):
    """The CLI invokes the worker directly, outside the queue's order, so an approval can reach the
    chain just after another writer (here a stranger's refused click): it must land, not crash."""
    rollouts.command("start", version=rollouts.candidate, actor="jane", plan=small_plan())
    rollouts.traffic(15, 5, GOOD)
    rollouts.tick()
    from prompt_rollback import wiring
    from prompt_rollback.domain.rollout_state import fold, new_record

    ledger, key = wiring.audit_ledger(), f"langfuse#{PROMPT}"
    rollout = fold(ledger.since(key, ledger.head(key).guards.rollout_from))
    assert rollout is not None
    winner = new_record(rollout, "rejected", T0, "mallory", "not allowed", detail={"refused": True})
    append = type(ledger).append

    def someone_else_first(self: Any, record: Any, after: Any) -> Any:
        monkeypatch.setattr(type(ledger), "append", append)
        append(self, winner, after)
        return append(self, record, after)  # after is stale now: the store refuses it

    monkeypatch.setattr(type(ledger), "append", someone_else_first)
    approved = rollouts.command("approve", actor="sre")

    assert approved["outcome"] == "changed", approved
    assert approved["rollout"]["share"] == 25 and "canary-25" in rollouts.labels(rollouts.candidate)
    assert rollouts.kinds()[-3:] == ["rejected", "approved", "step"]


def test_a_tick_reads_both_arms_in_three_langfuse_calls(rollouts):
    rollouts.command("start", version=rollouts.candidate, actor="jane", plan=small_plan())
    rollouts.traffic(15, 5, GOOD)
    requests_before = len(rollouts.stack.langfuse.app.requests)
    rollouts.tick()
    seen = rollouts.stack.langfuse.app.requests[requests_before:]
    assert [path for _, path in seen] == ["/api/public/v2/metrics"] * 3


def test_a_persons_move_during_the_rollout_stops_it_and_says_who(rollouts, stack):
    rollouts.command("start", version=rollouts.candidate, actor="jane", plan=small_plan())
    from prompt_rollback import wiring
    from prompt_rollback.domain.changes import ProductionChange

    ledger = wiring.audit_ledger()
    head = ledger.recent(f"langfuse#{PROMPT}", 1)[0]
    change = ProductionChange(
        prompt_key=f"langfuse#{PROMPT}", prompt_name=PROMPT, provider="langfuse", change="moved",
        from_version=7, to_version=6, actor="alice@example.com", changed_at=T0, source="langfuse-webhook",
        source_event_ids=("evt-1",), recorded_at="2026-06-01T12:01:00.000000Z",
    )  # fmt: skip
    ledger.append(change, head)
    rollouts.traffic(15, 5, GOOD)
    rollouts.tick()

    status = rollouts.status()
    assert status["state"] == "aborted"
    assert "alice@example.com" in status["reason"] and "v6" in status["reason"]


def test_a_rollout_is_found_however_many_records_came_after_it(rollouts):
    rollouts.command("start", version=rollouts.candidate, actor="jane", plan=small_plan())
    from prompt_rollback import wiring
    from prompt_rollback.domain.changes import ProductionChange

    ledger, key = wiring.audit_ledger(), f"langfuse#{PROMPT}"
    head = ledger.head(key).record
    for n in range(1001):  # a cleanup script deleting old drafts: a change record each
        deleted = ProductionChange(
            prompt_key=key, prompt_name=PROMPT, provider="langfuse", change="version_deleted",
            from_version=None, to_version=None, actor="cleanup", changed_at=T0, source="langfuse-webhook",
            source_event_ids=(f"evt-del-{n}",), version=1, recorded_at="2026-06-01T12:01:00.000000Z",
        )  # fmt: skip
        head = ledger.append(deleted, head)

    status = rollouts.status()
    assert (status["state"], status["share"], status["candidate"]) == ("progressing", 5, rollouts.candidate)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"version": 99}, "has no version 99"),
        ({"version": 7}, "already production"),
        (
            {"plan": {"steps": [{"share": 25}, {"share": 5}, {"share": 100}]}},
            "steps must go up",
        ),
        ({"plan": {"steps": [{"share": 5, "analysis": {"required": ["bleu"]}}, {"share": 100}]}}, "required"),
        ({"plan": {"steps": [{"share": 0}, {"share": 100}]}}, "steps.0.share"),
    ],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(rollouts, fields, expected):
    request = {"version": rollouts.candidate, "actor": "jane", **fields}
    answer = rollouts.command("start", **request)
    assert answer["outcome"] == "error", answer
    assert expected in json.dumps(answer)
    assert rollouts.stack.audit(PROMPT) == []
    assert rollouts.stack.label_moves() == 0


def test_a_second_rollout_of_the_same_prompt_is_refused(rollouts):
    rollouts.command("start", version=rollouts.candidate, actor="jane", plan=small_plan())
    before = rollouts.stack.audit(PROMPT)
    other = int(rollouts.stack.langfuse.store.create(PROMPT, "Another. {{question}}")["version"])
    answer = rollouts.command("start", version=other, actor="bob")
    assert answer["outcome"] == "error" and "already rolling out" in answer["answer"]
    assert rollouts.stack.audit(PROMPT) == before
    assert "canary" not in rollouts.labels(other)


def test_the_cli_starts_and_reports_status_as_json(rollouts, tmp_path, capsys):
    from prompt_rollback import cli

    plan = tmp_path / "plan.yaml"
    plan.write_text(json.dumps(small_plan()))  # JSON is YAML
    base = ["--prompt", PROMPT, "--in-process", "--format", "json"]
    version = str(rollouts.candidate)
    assert (
        cli.main(["rollout", "start", *base, "--version", version, "--plan", str(plan), "--actor", "ci"]) == 0
    )
    capsys.readouterr()
    assert cli.main(["rollout", "status", *base]) == 0
    status = json.loads(capsys.readouterr().out)
    assert {k: status[k] for k in ("state", "share", "candidate", "stable", "step")} == {
        "state": "progressing", "share": 5, "candidate": rollouts.candidate, "stable": 7, "step": 0,
    }  # fmt: skip
    assert {"analysis", "waiting_for"} <= set(status)

    bad = tmp_path / "down.yaml"
    bad.write_text("steps:\n  - {share: 50}\n  - {share: 25}\n  - {share: 100}\n")
    assert cli.main(["rollout", "start", *base, "--version", version, "--plan", str(bad)]) == 1
    assert cli.main(["rollout", "abort", *base, "--actor", "jane"]) == 0
    capsys.readouterr()
    assert cli.main(["rollout", "status", *base]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "aborted"
