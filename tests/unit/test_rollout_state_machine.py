"""The rollout's pure state machine: plans, folding records, transitions. No mocks, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from prompt_rollback.domain.canary.analysis import ArmObservations, Proportion, StepWindow
from prompt_rollback.domain.changes import ProductionChange
from prompt_rollback.domain.rollout_plan import RolloutPlan, approves, default_plan
from prompt_rollback.domain.rollout_record import RolloutRecord
from prompt_rollback.domain.rollout_state import Rollout, applied, fold, new_record, started
from prompt_rollback.domain.rollout_transitions import (
    approval_expired,
    by_hand,
    decide_approval,
    judge_step,
    on_bake_look,
    on_look,
)
from pydantic import ValidationError

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def rollout(plan: RolloutPlan | None = None) -> Rollout:
    plan = plan or default_plan()
    probe = Rollout("ro-1", "langfuse#p", "p", "langfuse", 8, 7, plan, T0, "jane")
    record = new_record(
        probe, "rollout_started", T0, "jane", share=5, production=7, next_tick=1,
        detail={"plan": plan.model_dump(mode="json")},
    )  # fmt: skip
    return started(record)


def apply_all(state: Rollout, records: tuple[RolloutRecord, ...]) -> Rollout:
    for record in records:
        state = applied(state, record)
    return state


def arm(requests: int, errors: int, exact: float, p99: float = 800.0) -> ArmObservations:
    ok = requests - errors
    return ArmObservations(
        requests=requests, errors=errors, exact_match=Proportion(trials=ok, successes=round(exact * ok)),
        latency_p99_ms=p99,
    )  # fmt: skip


def window(canary: ArmObservations, stable: ArmObservations, share: int = 5) -> StepWindow:
    return StepWindow(share=share, canary=canary, stable=stable)


def test_the_default_plan_is_the_process():
    plan = default_plan()
    assert [s.share for s in plan.steps] == [5, 25, 50, 100]
    assert plan.steps[0].approval.approvers == ("sre",)
    assert plan.steps[2].approval.approvers == ("product-owner",)
    assert plan.steps[0].max_error_rate == 0.01 and plan.steps[0].analysis.latency_p99_ratio == 1.2
    assert plan.steps[0].analysis.exact_match_margin == 0.02
    assert plan.bake.duration == timedelta(minutes=30) and plan.bake.triggers[0].above == 0.03


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ([{"share": 25}, {"share": 5}, {"share": 100}], "steps.1.share"),
        ([{"share": 5}, {"share": 5}, {"share": 100}], "steps.1.share"),
        ([{"share": 5}, {"share": 50}], "steps.1.share"),
        ([{"share": 0}, {"share": 100}], "steps.0.share"),
        ([{"share": 5}, {"share": 101}], "steps.1.share"),
        ([{"share": 5, "analysis": {"required": ["bleu"]}}, {"share": 100}], "steps.0.analysis.required"),
        ([{"share": 5, "shares": 3}, {"share": 100}], "steps.0.shares"),
    ],
)
def test_a_bad_plan_is_refused_with_the_field_named(steps, field):
    with pytest.raises(ValidationError) as refused:
        RolloutPlan.model_validate({"steps": steps})
    assert field in str(refused.value) or field.rsplit(".", 1)[0] in str(refused.value)


def test_a_clearly_worse_candidate_aborts_at_the_first_look():
    state = rollout()
    verdict_window = window(arm(1500, 75, 0.85), arm(28500, 140, 0.90))
    now = T0 + timedelta(minutes=10)
    transition = on_look(state, 1, judge_step(state, verdict_window, now), verdict_window, now)
    assert [r.kind for r in transition.records] == ["analysis", "aborted"]
    assert transition.move.kind == "abort" and transition.records[-1].share == 0
    assert transition.next_tick is None


def test_a_passing_step_with_a_checkpoint_waits_for_its_approver_and_refuses_others():
    state = rollout()
    good = window(arm(1500, 2, 0.90), arm(28500, 40, 0.90))
    now = T0 + timedelta(minutes=31)
    transition = on_look(state, 1, judge_step(state, good, now), good, now)
    assert [r.kind for r in transition.records] == ["analysis", "approval_requested"]
    waiting = apply_all(state, transition.records)
    assert waiting.status == "waiting_approval" and waiting.share == 5

    refused = decide_approval(waiting, 0, "mallory", "approve", now, lambda who, names: who in names)
    assert refused.refused and [r.kind for r in refused.records] == ["rejected"] and refused.move is None
    approved = decide_approval(waiting, 0, "sre", "approve", now, lambda who, names: who in names)
    assert [r.kind for r in approved.records] == ["approved", "step"]
    assert approved.move.kind == "share" and approved.move.share == 25


def test_too_few_samples_is_inconclusive_and_pauses_past_the_deadline():
    state = rollout()
    thin = window(arm(20, 0, 0.9), arm(400, 1, 0.9))
    early = T0 + timedelta(minutes=40)
    assert [r.kind for r in on_look(state, 1, judge_step(state, thin, early), thin, early).records] == [
        "analysis"
    ]
    late = T0 + timedelta(hours=5)
    paused = on_look(state, 1, judge_step(state, thin, late), thin, late)
    assert [r.kind for r in paused.records] == ["analysis", "paused"] and paused.next_tick is None


def test_an_approval_that_expires_pauses_the_rollout():
    state = rollout()
    asked = new_record(state, "approval_requested", T0, "prompt-rollback")
    waiting = applied(state, asked)
    assert approval_expired(waiting, T0 + timedelta(hours=23)) is None
    expired = approval_expired(waiting, T0 + timedelta(hours=25))
    assert expired is not None and expired.records[0].kind == "paused"


def test_the_bake_rolls_back_to_the_exact_previous_stable_when_errors_pass_the_trigger():
    state = apply_all(rollout(), by_hand(rollout(), "promote", "jane", T0, full=True).records)
    assert state.status == "baking" and state.production == 8
    fired = on_bake_look(state, 2, {"error_rate": (0.05, 1000)}, T0 + timedelta(minutes=10))
    assert fired.move.kind == "rollback" and fired.records[-1].production == 7
    held = on_bake_look(state, 2, {"error_rate": (0.01, 1000)}, T0 + timedelta(minutes=31))
    assert [r.kind for r in held.records] == ["analysis", "baked"]


def test_a_persons_move_after_the_start_is_seen_when_folding():
    state = rollout()
    change = ProductionChange(
        prompt_key="langfuse#p", prompt_name="p", provider="langfuse", change="moved", from_version=7,
        to_version=6, actor="alice", changed_at=T0, source="langfuse-webhook", source_event_ids=("e",),
    )  # fmt: skip
    folded = fold([state.last, change])
    assert folded is not None and folded.outside_move == ("alice", 6)


def test_a_late_event_of_a_move_made_before_the_start_does_not_stop_the_rollout():
    """Langfuse's webhook for a move can arrive after the start, which already read production."""
    state = rollout()
    change = ProductionChange(
        prompt_key="langfuse#p", prompt_name="p", provider="langfuse", change="moved", from_version=8,
        to_version=7, actor="seed", changed_at=T0 - timedelta(seconds=2), source="langfuse-webhook",
        source_event_ids=("e",),
    )  # fmt: skip
    assert fold([state.last, change]).outside_move is None
    elsewhere = replace(change, to_version=6)  # it left production on another version than the start saw
    assert fold([state.last, elsewhere]).outside_move == ("seed", 6)


def test_pause_then_resume_starts_a_new_tick_chain_above_every_earlier_tick():
    state = rollout()
    paused = apply_all(state, by_hand(state, "pause", "jane", T0).records)
    assert paused.status == "paused" and paused.next_tick is None
    resumed = by_hand(paused, "resume", "jane", T0)
    assert resumed.next_tick == 2  # tick 1 was scheduled at the start: it can no longer act


def test_an_approver_is_named_or_a_member_of_a_named_slack_user_group():
    groups = {"S0RELEASE": frozenset({"U0ALICE"})}

    def members_of(group: str) -> frozenset[str]:
        return groups.get(group, frozenset())

    assert approves("sre", ("sre", "S0RELEASE"), members_of)
    assert approves("U0ALICE", ("sre", "S0RELEASE"), members_of)
    assert not approves("U0MALLORY", ("sre", "S0RELEASE"), members_of)
    assert not approves("U0ALICE", ("sre", "product-owner"), members_of)  # names are not groups
