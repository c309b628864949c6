"""A retry of a request whose worker stopped after writing its intent: finish, never move twice."""

from __future__ import annotations

from dataclasses import replace

from prompt_rollback.domain.audit_record import AuditRecord
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.move import stopped_by_drift
from prompt_rollback.rollback.records import RollbackResult, decision_of_intent, prompt_ref
from prompt_rollback.rollback.retarget import move_or_retarget

AUDIT_COMPLETED_ON_RETRY = " (audit completed on retry)"


def resume(journal: Journal, request: RollbackRequest, intent: AuditRecord) -> RollbackResult:
    decision = decision_of_intent(intent)
    production = journal.registry(request).read_production(prompt_ref(request))
    if production == decision.to_version:
        # The label moved before the crash: finish the paperwork, do not move it again.
        resumed = replace(decision, reason=decision.reason + AUDIT_COMPLETED_ON_RETRY)
        slack = journal.notify(request, resumed)
        return journal.record_decision(request, resumed, slack, intent, observed=production)
    if production == decision.from_version:
        return move_or_retarget(journal, request, decision, intent)
    guards = journal.ledger.head(request.prompt_key).guards
    return stopped_by_drift(journal, request, decision, intent, production, guards)
