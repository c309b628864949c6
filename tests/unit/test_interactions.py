"""People in the loop, as pure decisions: who may click, Approve/Reject/Undo, recovery, cascades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prompt_rollback.domain.interactions import (
    Click,
    Move,
    Proposal,
    derived_request_id,
    judge_approval,
    judge_rejection,
    judge_undo,
    may_click,
    needs_a_person,
    proposal_expired,
    recovery_overdue,
    recovery_time,
)
from prompt_rollback.domain.policy_config import PolicyConfig

NOW = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
POLICY = PolicyConfig.model_validate(
    {
        "approvers": ["U0ALICE", "S0ONCALL"],
        "prompts": {
            "financial-*": {
                "mode": "approval",
                "approvers": ["U0CFO"],
                "channel": "C0FINANCE",
                "approval_expiry_minutes": 15,
                "recovery_minutes": 10,
                "max_rollback_steps": 2,
            },
        },
    }
)


def test_oversight_per_prompt_pattern_with_defaults():
    default = POLICY.oversight_for("support-answer")
    assert (default.mode, default.channel, default.recovery_window) == ("auto", "", timedelta(minutes=30))
    assert default.approver_users == {"U0ALICE"} and default.approver_groups == {"S0ONCALL"}
    financial = POLICY.oversight_for("financial-advice")
    assert (financial.mode, financial.channel, financial.approvers) == ("approval", "C0FINANCE", ("U0CFO",))
    assert financial.approval_expiry == timedelta(minutes=15)
    assert financial.max_rollback_steps == 2


@pytest.mark.parametrize(
    "bad",
    [
        {"mode": "yolo"},
        {"approvers": ["alice"]},
        {"recovery_minutes": 0},
        {"channel": "<!channel>"},
        {"max_rollback_steps": 0},
    ],
)
def test_malformed_people_settings_are_refused(bad):
    with pytest.raises(ValueError):
        PolicyConfig.model_validate(bad)


def test_only_listed_people_or_members_of_a_listed_group_may_click():
    oversight = POLICY.oversight_for("support-answer")
    members = {"S0ONCALL": frozenset({"U0BOB"})}
    assert may_click("U0ALICE", oversight, members)
    assert may_click("U0BOB", oversight, members)
    assert not may_click("U0MALLORY", oversight, members)
    assert not may_click("U0BOB", oversight, {})  # the group could not be read: nobody through it
    assert not may_click("U0ALICE", POLICY.oversight_for("financial-advice"), members)


PROPOSAL = Proposal("rb-1", from_version=7, to_version=6, proposed_at=NOW - timedelta(minutes=5))


def test_approving_a_fresh_proposal_moves_from_what_was_proposed():
    verdict = judge_approval(PROPOSAL, "", production=7, now=NOW, expiry=HOUR)
    assert (verdict.moves, verdict.from_version, verdict.to_version) == (True, 7, 6)


def test_approving_after_expiry_changes_nothing_and_says_so():
    verdict = judge_approval(PROPOSAL, "", production=7, now=NOW, expiry=timedelta(minutes=5))
    assert (verdict.outcome, verdict.moves) == ("expired", False)
    assert "5 min" in verdict.reason
    assert proposal_expired(PROPOSAL, "", NOW, timedelta(minutes=5))
    assert not proposal_expired(PROPOSAL, "rejected", NOW, timedelta(minutes=5))


def test_approving_a_stale_proposal_changes_nothing_and_says_why():
    verdict = judge_approval(PROPOSAL, "", production=8, now=NOW, expiry=HOUR)
    assert (verdict.outcome, verdict.moves) == ("stale", False)
    assert "production moved since the proposal: it is v8" in verdict.reason


def test_a_settled_proposal_cannot_be_approved_or_rejected_again():
    assert judge_approval(PROPOSAL, "rejected", 7, NOW, HOUR).outcome == "already_decided"
    assert judge_rejection(PROPOSAL, "approved", NOW, HOUR).outcome == "already_decided"
    assert judge_rejection(PROPOSAL, "", NOW, HOUR).outcome == "rejected"


MOVE = Move("rb-1", from_version=7, to_version=6, moved_at=NOW - timedelta(minutes=3))


def test_undo_is_a_compare_and_swap_from_where_we_moved_to():
    verdict = judge_undo(MOVE, production=6)
    assert (verdict.moves, verdict.from_version, verdict.to_version) == (True, 6, 7)
    stale = judge_undo(MOVE, production=9)
    assert (stale.moves, stale.outcome) == (False, "stale")


def test_undo_of_an_undo_moves_forward_again():
    undo = Move(derived_request_id(Click.UNDO, "rb-1"), from_version=6, to_version=7, moved_at=NOW)
    verdict = judge_undo(undo, production=7)
    assert (verdict.from_version, verdict.to_version) == (7, 6)
    assert derived_request_id(Click.UNDO, undo.rollback_id) == "undo-undo-rb-1"


def test_every_click_on_one_button_asks_for_the_same_move_and_ids_stay_valid():
    assert derived_request_id(Click.APPROVE, "rb-1") == derived_request_id(Click.APPROVE, "rb-1")
    long_id = "undo-" * 30 + "rb-1"
    assert len(derived_request_id(Click.UNDO, long_id)) <= 128


def test_recovery_time_and_overdue():
    assert recovery_time(MOVE, NOW) == timedelta(minutes=3)
    assert recovery_time(MOVE, MOVE.moved_at - timedelta(minutes=1)) == timedelta(0)
    assert recovery_overdue(MOVE, recovered=False, now=NOW + HOUR, window=timedelta(minutes=30))
    assert not recovery_overdue(MOVE, recovered=True, now=NOW + HOUR, window=timedelta(minutes=30))
    assert not recovery_overdue(MOVE, recovered=False, now=NOW, window=timedelta(minutes=30))


def test_no_cascade_when_the_version_we_rolled_back_to_alerts_inside_the_window():
    window = timedelta(minutes=30)
    why = needs_a_person(6, [MOVE], NOW, window, max_steps=1)
    assert "v6, the version we rolled back to 3 min ago, is alerting too" in why
    assert needs_a_person(6, [MOVE], NOW, window, max_steps=2) == ""  # the policy allows a 2nd step
    assert needs_a_person(6, [MOVE], NOW + HOUR, window, max_steps=1) == ""  # outside the window
    assert needs_a_person(7, [MOVE], NOW, window, max_steps=1) == ""  # another version alerting
    second = Move("rb-2", from_version=6, to_version=5, moved_at=NOW - timedelta(minutes=1))
    assert "2 automatic step(s)" in needs_a_person(5, [second, MOVE], NOW, window, max_steps=2)
