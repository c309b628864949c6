"""The intent record: written before production moves, it is the per-prompt lock and the note a
retry needs to finish a rollback whose worker died after the move."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from prompt_rollback.domain.audit import parse_iso_utc
from prompt_rollback.domain.audit_record import AuditRecord, LedgerRecord, ours
from prompt_rollback.domain.guard_summary import GuardSummary
from prompt_rollback.domain.policy import Decision
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import LedgerConflict, RollbackInProgress
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.records import audit_record

# An intent older than this whose worker never came back (crashed, message parked in the DLQ)
# no longer blocks the prompt.
ABANDONED_INTENT_AFTER = timedelta(minutes=15)


def own_intent(own: Sequence[LedgerRecord], guards: GuardSummary, request_id: str) -> AuditRecord | None:
    """This request's intent when its newest record is one (no decision followed it yet)."""
    mine = ours(own)
    if mine:
        return mine[0] if mine[0].kind == "intent" else None
    # The request-id index lags the table a little; the head's summary does not.
    pending = guards.open_intent
    return AuditRecord.from_item(pending) if pending and pending.get("request_id") == request_id else None


def own_pending_intent(
    own: Sequence[LedgerRecord], guards: GuardSummary, request: RollbackRequest, now: datetime
) -> AuditRecord | None:
    """This request's unfinished intent (resume it), None if the prompt is free; raises
    `RollbackInProgress` while another request's recent intent holds the prompt."""
    mine = own_intent(own, guards, request.request_id)
    if mine is not None:
        return mine
    pending = guards.open_intent
    if pending is None or pending.get("request_id") == request.request_id:
        return None
    if now - parse_iso_utc(str(pending["recorded_at"])) < ABANDONED_INTENT_AFTER:
        raise RollbackInProgress(f"{request.prompt_key} is being rolled back by {pending['request_id']}")
    return None


def take(
    journal: Journal,
    request: RollbackRequest,
    decision: Decision,
    head: LedgerRecord | None,
    observed: int | None,
) -> AuditRecord:
    """Append the intent right after `head`; losing that race means someone else holds the prompt."""
    intent = audit_record(
        request, decision, "intent", observed=observed, stage=journal.stage, now=journal.clock()
    )
    try:
        return journal.ledger.append(intent, head)
    except LedgerConflict as conflict:
        raise RollbackInProgress(
            f"{request.prompt_key} was locked by another request first ({conflict})"
        ) from conflict
