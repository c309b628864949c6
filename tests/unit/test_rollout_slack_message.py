"""A rollout's Slack message, rendered from its records alone (domain/rollout_slack.py): no mocks."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from prompt_rollback.domain.rollout_plan import Approval, PlanNotes, PlanStep, RolloutPlan
from prompt_rollback.domain.rollout_slack import rollout_message
from prompt_rollback.domain.rollout_state import Rollout
from prompt_rollback.domain.rollout_transitions import approval_expired

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ANALYSIS = {
    "outcome": "pass",
    "reasons": [],
    "metrics": [
        {"metric": "error_rate", "canary": "0.004", "stable": "0.005", "canary_samples": 260,
         "stable_samples": 1000, "limit": "0.0", "worse": False},
        {"metric": "latency_p99", "canary": "812.0", "stable": "800.0", "canary_samples": 260,
         "stable_samples": 1000, "limit": "1.2", "worse": False},
    ],
}  # fmt: skip


def rollout(**fields) -> Rollout:
    plan = RolloutPlan(
        steps=(
            PlanStep(
                share=5, approval=Approval(approvers=("U0ALICE", "sre"), expires_after=timedelta(hours=1))
            ),
            PlanStep(share=25),
            PlanStep(share=100),
        ),
        notes=PlanNotes(intent="shorter answers <!channel> <https://evil.example|click>"),
    )
    base = Rollout(
        rollout_id="ro-0123456789abcdef", prompt_key="langfuse#support-answer", prompt_name="support-answer",
        provider="langfuse", candidate=8, stable=7, plan=plan, started_at=T0, started_by="jane", share=5,
    )  # fmt: skip
    return replace(base, **fields)


def text_of(message: dict) -> str:
    return json.dumps(message["blocks"], ensure_ascii=False)


def buttons(message: dict) -> list[dict]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_a_checkpoint_shows_approve_abort_and_promote_full_carrying_only_the_rollout_id():
    message = rollout_message(rollout(status="waiting_approval", waiting_since=T0, last_analysis=ANALYSIS))
    assert [(b["action_id"], b["text"]["text"]) for b in buttons(message)] == [
        ("rollout_approve", "Approve"),
        ("rollout_abort", "Abort"),
        ("rollout_promote_full", "Promote full"),
    ]
    assert {b["value"] for b in buttons(message)} == {"ro-0123456789abcdef"}
    shown = text_of(message)
    assert "approval by one of <@U0ALICE>, sre to leave 5 %" in shown  # the step's approvers, named


def test_both_arms_numbers_and_each_step_with_its_share_are_shown():
    shown = text_of(rollout_message(rollout(last_analysis=ANALYSIS)))
    assert "errors: canary 0.40% (n=260) vs stable 0.50% (n=1000)" in shown
    assert "P99: canary 812 ms (n=260) vs stable 800 ms (n=1000)" in shown
    assert "*5 % (approval)* → 25 % → 100 %" in shown


def test_no_buttons_while_progressing_and_the_wait_is_said():
    message = rollout_message(
        rollout(last_analysis={**ANALYSIS, "reasons": ["error_rate: 120 of 500 samples"]})
    )
    assert buttons(message) == []
    assert "Waiting for*: analysis: error_rate: 120 of 500 samples" in text_of(message)


def test_an_expired_approval_shows_the_rollout_paused_without_buttons():
    waiting = rollout(status="waiting_approval", waiting_since=T0)
    expired = approval_expired(waiting, T0 + timedelta(hours=2))
    assert expired is not None
    [record] = expired.records
    paused = replace(waiting, status="paused", reason=record.reason)
    message = rollout_message(paused)
    assert buttons(message) == []
    assert "paused" in message["text"]
    assert "approval expired after 1:00:00" in text_of(message)


def test_untrusted_text_is_escaped():
    shown = text_of(rollout_message(rollout(started_by="<!here> mallory")))
    assert "<!channel>" not in shown and "<https://evil.example" not in shown and "<!here>" not in shown


def test_an_ending_says_how_it_ended():
    message = rollout_message(rollout(status="aborted", share=0, reason="analysis failed: error_rate worse"))
    assert "Outcome*: analysis failed: error_rate worse" in text_of(message)
    assert ":white_check_mark:" not in text_of(message) and buttons(message) == []
