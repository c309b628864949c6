"""Move production and read it back: a move is done only when the registry says so."""

from __future__ import annotations

from prompt_rollback.domain.audit_record import AuditRecord
from prompt_rollback.domain.guard_summary import GuardSummary
from prompt_rollback.domain.policy import Decision, Outcome, RegistryState
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import VerificationFailed
from prompt_rollback.ports import MoveReadsBack
from prompt_rollback.rollback import registry_state
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.oversight import decide_overseen
from prompt_rollback.rollback.records import RollbackResult, prompt_ref


def move_and_verify(
    journal: Journal,
    request: RollbackRequest,
    decision: Decision,
    intent: AuditRecord,
    assumed: RegistryState | None = None,
) -> RollbackResult:
    """Move production to the decision's target and confirm it. When production was `assumed`
    (not read before the intent), it is read now: anything but the version we move from stops us,
    as a person's move stands. A resumed intent reads production first (resume.py)."""
    if decision.to_version is None:
        raise ValueError("a rollback decision names its target version")
    registry, ref = journal.registry(request), prompt_ref(request)
    if assumed is not None:
        # Compare before the swap, as late as it can be (Langfuse has no conditional label update):
        # our intent holds the prompt against our own requests, not against people.
        now = registry.read_production(ref)
        if now != decision.from_version:
            return _not_as_assumed(journal, request, decision, intent, assumed, now)
    if isinstance(registry, MoveReadsBack):  # the move's own answer is the read-back
        registry_request_id, production = registry.move_and_read_back(ref, decision.to_version)
    else:
        registry_request_id = registry.move_production(ref, decision.to_version)
        production = registry.read_production(ref)
    if production != decision.to_version:
        raise VerificationFailed(f"production reads v{production} after moving it to v{decision.to_version}")
    slack = journal.notify(request, decision)
    return journal.record_decision(
        request, decision, slack, intent, observed=production, registry_request_id=registry_request_id
    )


def _not_as_assumed(
    journal: Journal,
    request: RollbackRequest,
    decision: Decision,
    intent: AuditRecord,
    assumed: RegistryState,
    production: int | None,
) -> RollbackResult:
    """Production is not the alerted version our intent moves from. A person's move recorded since
    the intent stopped us; otherwise the alert was stale, or their move is not on record yet: the
    policy decides again on production as it is (and skips), closing our intent."""
    guards = journal.ledger.head(request.prompt_key).guards
    if guards.last_change_seq > intent.seq:
        return stopped_by_drift(journal, request, decision, intent, production, guards)
    state = registry_state.with_production(journal, request, guards, assumed, production)
    again = decide_overseen(journal, request, state, guards)
    if again.acts:  # never the policy's answer for a version other than the alerted one
        return stopped_by_drift(journal, request, decision, intent, production, guards)
    return journal.record_without_move(request, again, intent, production)


def stopped_by_drift(
    journal: Journal,
    request: RollbackRequest,
    decision: Decision,
    intent: AuditRecord,
    production: int | None,
    guards: GuardSummary,
) -> RollbackResult:
    """A person moved production while our intent was open: record and announce who, move nothing."""
    stopped = Decision(
        Outcome.SKIPPED,
        f"stopped: production was moved to v{production} by {guards.who_moved(production)} while this "
        f"rollback (v{decision.from_version} -> v{decision.to_version}) was pending; a person's change "
        "is not overridden",
        decision.from_version,
        notify=True,
    )
    slack = journal.notify(request, stopped)
    return journal.record_decision(request, stopped, slack, intent, observed=production)
