"""The record of a request we stop trying: it failed for good, or it lost the lock."""

from __future__ import annotations

from prompt_rollback.domain.policy import Decision, Outcome
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import RollbackInProgress, describe
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.lock import own_intent
from prompt_rollback.rollback.records import RollbackResult, prompt_ref


def record_failure(journal: Journal, request: RollbackRequest, error: BaseException) -> RollbackResult:
    """Audit (and announce) a request we are giving up on; it then goes to the DLQ or is dropped."""
    newest = journal.ledger.head(request.prompt_key)
    head = newest.record
    own = journal.ledger.of_request(request.prompt_key, request.request_id)
    intent = own_intent(own, newest.guards, request.request_id)
    if intent is not None and _production_is_at(journal, request, intent.to_version):
        # The label did move; what failed came after it (the audit write, say): say so, not "FAILED".
        decision = Decision(
            Outcome.ROLLED_BACK,
            f"rolled back, but the audit could not be completed: {describe(error)}",
            intent.from_version,
            intent.to_version,
            intent.basis,
        )
    else:
        decision = Decision(
            Outcome.FAILED,
            f"rollback failed: {describe(error)}",
            intent.from_version if intent else request.alerted_version,
            intent.to_version if intent else None,
        )
    slack = journal.notify(request, decision)
    return journal.record_decision(request, decision, slack, head, observed=None, error=describe(error))


def record_lock_lost(journal: Journal, request: RollbackRequest, error: RollbackInProgress) -> RollbackResult:
    """Another rollback of the prompt holds the lock on our last attempt: we did nothing, and that
    is not a failure (the other rollback is audited and announced on its own)."""
    records = journal.ledger.recent(request.prompt_key, 1)
    decision = Decision(
        Outcome.SKIPPED,
        f"another rollback is in progress: {error}",
        request.alerted_version,
    )
    slack = journal.notify(request, decision)
    return journal.record_decision(request, decision, slack, records[0] if records else None, observed=None)


def _production_is_at(journal: Journal, request: RollbackRequest, version: int | None) -> bool:
    """Whether production already points at `version`; False when the registry cannot tell."""
    if version is None:
        return False
    try:
        return journal.registry(request).read_production(prompt_ref(request)) == version
    except Exception:  # the registry may be what is failing: then we cannot claim a move
        return False
