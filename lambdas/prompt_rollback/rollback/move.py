"""Move production and read it back: a move is done only when the registry says so."""

from __future__ import annotations

from prompt_rollback.audit_record import AuditRecord
from prompt_rollback.domain.policy import Decision
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import VerificationFailed
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.records import RollbackResult, prompt_ref


def move_and_verify(
    journal: Journal, request: RollbackRequest, decision: Decision, intent: AuditRecord
) -> RollbackResult:
    if decision.to_version is None:
        raise ValueError("a rollback decision names its target version")
    registry, ref = journal.registry(request), prompt_ref(request)
    registry_request_id = registry.move_production(ref, decision.to_version)
    production = registry.read_production(ref)
    if production != decision.to_version:
        raise VerificationFailed(f"production reads v{production} after moving it to v{decision.to_version}")
    slack = journal.notify(request, decision)
    return journal.record_decision(
        request, decision, slack, intent, observed=production, registry_request_id=registry_request_id
    )
