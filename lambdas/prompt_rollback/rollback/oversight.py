"""People in the loop applied to a decision that would move production automatically: no
cascade without the policy's `max_rollback_steps`, and approval mode's proposals. A forced
request (a person, the CLI, an approved proposal or an Undo) is never overseen again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from prompt_rollback.domain.guard_summary import UNDO_PREFIX, GuardSummary
from prompt_rollback.domain.interactions import Move, needs_a_person
from prompt_rollback.domain.policy import Decision, Outcome, PastDecision, RegistryState, decide
from prompt_rollback.domain.policy_config import PolicyConfig
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.registry_state import ask_of


def automatic_moves(rollbacks: Sequence[PastDecision]) -> list[Move]:
    """Rollbacks that moved production, newest first; an undo is a person's choice, not a step back."""
    return [
        Move(r.request_id, r.from_version, r.to_version, r.recorded_at)
        for r in rollbacks
        if r.outcome is Outcome.ROLLED_BACK
        and r.from_version is not None
        and r.to_version is not None
        and not r.request_id.startswith(UNDO_PREFIX)
    ]


def oversee(
    request: RollbackRequest,
    decision: Decision,
    rollbacks: Sequence[PastDecision],
    policy: PolicyConfig,
    now: datetime,
) -> Decision:
    if not decision.acts or request.forced:
        return decision
    oversight = policy.oversight_for(request.prompt_name)
    why = needs_a_person(
        request.alerted_version,
        automatic_moves(rollbacks),
        now,
        oversight.recovery_window,
        oversight.max_rollback_steps,
    )
    if why:
        return Decision(Outcome.NEEDS_PERSON, why, decision.from_version, decision.to_version, decision.basis)
    if oversight.mode == "approval":
        minutes = int(oversight.approval_expiry.total_seconds() // 60)
        return Decision(
            Outcome.PROPOSED,
            f"proposed: waiting for an approver (expires in {minutes} min)",
            decision.from_version,
            decision.to_version,
            decision.basis,
        )
    return decision


def decide_overseen(
    journal: Journal, request: RollbackRequest, state: RegistryState, guards: GuardSummary
) -> Decision:
    """The policy's decision on what the registry and the ledger say, with people in the loop."""
    now = journal.clock()
    decision = decide(ask_of(request), state, guards.history(), journal.policy, now, changes=guards.changes)
    return oversee(request, decision, guards.rollbacks, journal.policy, now)
