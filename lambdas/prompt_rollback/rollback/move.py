"""Move production and read it back: a move is done only when the registry says so."""

from __future__ import annotations

from collections.abc import Sequence

from prompt_rollback.domain.audit_record import AuditRecord, LedgerRecord
from prompt_rollback.domain.policy import Decision, Outcome
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import VerificationFailed
from prompt_rollback.ports import MoveReadsBack
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.records import RollbackResult, prompt_ref, who_moved

# How far back a resumed intent looks for the change records that say who moved production.
DRIFT_DEPTH = 20


def move_and_verify(
    journal: Journal, request: RollbackRequest, decision: Decision, intent: AuditRecord
) -> RollbackResult:
    """Compare before the swap: production was read before the intent and is `from_version` (the
    policy skips when it is not the alerted version: a person moved it), and the intent was
    written right after the ledger head that read saw, so a change recorded since (Langfuse
    webhook, CloudTrail) took the intent's place and this request decides again on its retry.
    A resumed intent reads production again first (rollback/resume.py)."""
    if decision.to_version is None:
        raise ValueError("a rollback decision names its target version")
    registry, ref = journal.registry(request), prompt_ref(request)
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


def stopped_by_drift(
    journal: Journal,
    request: RollbackRequest,
    decision: Decision,
    intent: AuditRecord,
    production: int | None,
    newer: Sequence[LedgerRecord],
) -> RollbackResult:
    """A person moved production while our intent was open: record and announce who, move nothing."""
    stopped = Decision(
        Outcome.SKIPPED,
        f"stopped: production was moved to v{production} by {who_moved(newer, production)} while this "
        f"rollback (v{decision.from_version} -> v{decision.to_version}) was pending; a person's change "
        "is not overridden",
        decision.from_version,
        notify=True,
    )
    slack = journal.notify(request, stopped)
    return journal.record_decision(request, stopped, slack, intent, observed=production)
