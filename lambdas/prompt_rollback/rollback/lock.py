"""The intent record: written before production moves, it is the per-prompt lock and the note a
retry needs to finish a rollback whose worker died after the move."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from prompt_rollback.domain.audit import parse_iso_utc
from prompt_rollback.domain.audit_record import AuditRecord, LedgerRecord
from prompt_rollback.domain.policy import Decision
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import LedgerConflict, RollbackInProgress
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.records import audit_record, open_intent

# An intent older than this whose worker never came back (crashed, message parked in the DLQ)
# no longer blocks the prompt.
ABANDONED_INTENT_AFTER = timedelta(minutes=15)


def own_pending_intent(
    records: Sequence[LedgerRecord], request: RollbackRequest, now: datetime
) -> AuditRecord | None:
    """This request's unfinished intent (resume it), None if the prompt is free; raises
    `RollbackInProgress` while another request's recent intent holds the prompt."""
    pending = open_intent(records)
    if pending is None:
        return None
    if pending.request_id == request.request_id:
        return pending
    if now - parse_iso_utc(pending.recorded_at) < ABANDONED_INTENT_AFTER:
        raise RollbackInProgress(f"{request.prompt_key} is being rolled back by {pending.request_id}")
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
