"""One request in, one audited decision out, in an order of side effects that is safe to retry
at any point (RollbackService.handle)."""

from __future__ import annotations

from prompt_rollback.domain.audit_record import LedgerRecord, ours
from prompt_rollback.domain.policy import Outcome
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import RollbackInProgress
from prompt_rollback.rollback import failure, lock
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.oversight import decide_overseen
from prompt_rollback.rollback.own_records import own_records
from prompt_rollback.rollback.records import RollbackResult, result_of, settled_decision
from prompt_rollback.rollback.registry_state import ask_of, confirm, read_for
from prompt_rollback.rollback.resume import resume
from prompt_rollback.rollback.retarget import move_or_retarget


class RollbackService:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def handle(self, request: RollbackRequest) -> RollbackResult:
        """1. read the ledger (once) and what the registry must add to it (registry_state.py);
        2. decide (pure, domain/policy.py);
        3. for a rollback: append the intent (the per-prompt lock), read production unless it was
        read before (a person's move stops us), move it (a target deleted since is replaced by a
        second intent: retarget.py), read it back, announce, append the decision;
        4. for anything else: announce when people need to know, append the decision.
        A re-delivery whose decision stands gets that decision back (the ledger is the idempotency
        record of the queue); one that finds its own unfinished intent resumes it."""
        journal = self.journal
        # By key, never by depth: the head carries what the guards need of the whole chain.
        newest = journal.ledger.head(request.prompt_key)
        own = own_records(journal, request, newest)
        settled = settled_decision(own, request.request_id)
        if settled is not None:
            return result_of(settled, replayed=True)
        head, guards = newest.record, newest.guards
        pending = lock.own_pending_intent(own, guards, request, journal.clock())
        if pending is not None:
            return resume(journal, request, pending)
        state = read_for(journal, request, ask_of(request), guards)
        decision = decide_overseen(journal, request, state, guards)
        if not decision.acts and not state.confirmed:
            # Nothing to move: what is recorded and said rests on production as it is.
            state = confirm(journal, request, guards, state)
            decision = decide_overseen(journal, request, state, guards)
        if not decision.acts:
            return journal.record_without_move(request, decision, head, state.production_version)
        # The intent notes the production the decision rests on; an unconfirmed one is read next.
        intent = lock.take(journal, request, decision, head, state.production_version)
        result = move_or_retarget(journal, request, decision, intent, None if state.confirmed else state)
        if result.outcome == Outcome.ROLLED_BACK.value and _failed_before(own, request.request_id):
            journal.resolve(request.request_id)  # a redrive from the DLQ did it: the incident is over
        return result

    def record_failure(self, request: RollbackRequest, error: BaseException) -> RollbackResult:
        return failure.record_failure(self.journal, request, error)

    def record_lock_lost(self, request: RollbackRequest, error: RollbackInProgress) -> RollbackResult:
        return failure.record_lock_lost(self.journal, request, error)


def _failed_before(records: list[LedgerRecord], request_id: str) -> bool:
    return any(
        r.is_decision and r.request_id == request_id and r.outcome is Outcome.FAILED for r in ours(records)
    )
