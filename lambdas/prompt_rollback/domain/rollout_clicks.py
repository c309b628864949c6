"""What a click on a rollout's Slack message does. Only the approvers named for the step the rollout
waits at may act; anyone else is refused and the refusal is on the record. Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from prompt_rollback.domain.rollout_messages import RolloutClickName
from prompt_rollback.domain.rollout_state import Rollout, new_record
from prompt_rollback.domain.rollout_transitions import (
    Transition,
    by_hand,
    decide_approval,
    promote,
    refusal,
)

IsApprover = Callable[[str, tuple[str, ...]], bool]


def decide_click(
    rollout: Rollout,
    rollout_id: str,
    click: RolloutClickName,
    user_id: str,
    actor: str,
    now: datetime,
    is_approver: IsApprover,
) -> Transition:
    """Approve (leave the step), Abort, or Promote full (approve and go straight to 100 %)."""
    if rollout.rollout_id != rollout_id:
        return refusal(f"this message is about {rollout_id}, no longer the prompt's rollout")
    approval = rollout.current_step.approval
    if rollout.status != "waiting_approval" or approval is None:
        return refusal(
            f"the rollout is {rollout.status} at {rollout.share} %: no checkpoint waits for a click"
        )
    if not is_approver(user_id, approval.approvers):
        approvers = ", ".join(approval.approvers)
        reason = f"not allowed: {actor} is not an approver of step {rollout.step} ({approvers})"
        record = new_record(rollout, "rejected", now, actor, reason, detail={"refused": True, "click": click})
        return Transition((record,), answer=reason, refused=True)
    if click == "rollout_approve":
        return decide_approval(rollout, rollout.step, actor, "approve", now, lambda *_: True)
    if click == "rollout_abort":
        return by_hand(rollout, "abort", actor, now)
    approved = new_record(
        rollout, "approved", now, actor, f"{actor} approved promoting in full from {rollout.share} %"
    )
    return promote(
        replace(rollout, status="progressing"), (approved,), now, actor, f"promoted in full by {actor}"
    )
