"""A move to a version the registry no longer has: nothing moved, so decide again on the full
read and move there instead, as a second intent of the same request (or stop, and say why)."""

from __future__ import annotations

from dataclasses import replace

from prompt_rollback.domain.audit_record import AuditRecord
from prompt_rollback.domain.policy import Decision, RegistryState
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import NotFound
from prompt_rollback.rollback import lock
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.move import move_and_verify, stopped_by_drift
from prompt_rollback.rollback.oversight import decide_overseen
from prompt_rollback.rollback.records import RollbackResult, prompt_ref


def move_or_retarget(
    journal: Journal,
    request: RollbackRequest,
    decision: Decision,
    intent: AuditRecord,
    assumed: RegistryState | None = None,
) -> RollbackResult:
    """Move as `move_and_verify` does; when the registry answers 404 and its list confirms the
    target is gone (deleted since the ledger named it), decide once more, announcing only the end."""
    gone = decision.to_version
    try:
        return move_and_verify(journal, request, decision, intent, assumed)
    except NotFound:
        state = journal.registry(request).read_state(prompt_ref(request))
        if gone is None or gone in state.versions:
            raise  # the version is there: the 404 is about something else, a retry cannot help
    newest = journal.ledger.head(request.prompt_key)
    if state.production_version != decision.from_version:
        return stopped_by_drift(journal, request, decision, intent, state.production_version, newest.guards)
    again = _because_gone(decide_overseen(journal, request, state, newest.guards), gone)
    if not again.acts:
        return journal.record_without_move(request, again, newest.record, state.production_version)
    # Our own intent is the head: the new one follows it, and the request's decision follows that.
    retargeted = lock.take(journal, request, again, newest.record, state.production_version)
    return move_and_verify(journal, request, again, retargeted)


def _because_gone(decision: Decision, gone: int) -> Decision:
    why = f"v{gone} no longer exists in the registry"
    if decision.to_version is not None:
        return replace(decision, basis=f"{why}; {decision.basis}" if decision.basis else why)
    return replace(decision, reason=f"{decision.reason} ({why})")
