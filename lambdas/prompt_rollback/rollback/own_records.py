"""A request's own records: read by key when the head's list proves which they are (a first
delivery then reads nothing), else found through the request-id index."""

from __future__ import annotations

from datetime import timedelta

from prompt_rollback.domain.audit_record import LedgerRecord
from prompt_rollback.domain.guard_summary import GuardSummary
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.ports import LedgerHead
from prompt_rollback.rollback.journal import Journal

# A request's records are all written after its alert started: an alert's request id is made from
# its startsAt, and a click's request carries the alert of the rollback it acts on, so every message
# of one id carries that time. Not `received_at` alone: Alertmanager re-sends a firing alert every
# repeat_interval, a new message with the same id, and a second click is another message too. The
# margin covers a sender's clock running ahead of ours, and our writers' clocks apart.
CLOCK_MARGIN = timedelta(minutes=5)


def own_records(journal: Journal, request: RollbackRequest, newest: LedgerHead) -> list[LedgerRecord]:
    """This request's records, newest first; the head too, which the index may not show yet."""
    head = newest.record
    seqs = listed_seqs(request, newest.guards)
    if seqs is None:
        own = journal.ledger.of_request(request.prompt_key, request.request_id)
    else:
        read = (
            head if head is not None and head.seq == seq else journal.ledger.read(request.prompt_key, seq)
            for seq in seqs
        )
        own = [record for record in read if record is not None]
    mine = head is not None and getattr(head, "request_id", None) == request.request_id
    if head is not None and mine and (not own or own[0].seq < head.seq):
        own = [head, *own]
    return own


def listed_seqs(request: RollbackRequest, guards: GuardSummary) -> tuple[int, ...] | None:
    """The seqs of the request's records when the head's list holds them all, else None."""
    trigger = request.trigger
    if trigger is None:
        return None  # a manual request's id carries no time: it may have been used any time before
    try:
        # The earlier of the two: an alert dated ahead of its arrival is trusted no further.
        recorded_after = min(trigger.starts_at, request.received_at) - CLOCK_MARGIN
    except OverflowError:  # dated near the year 1: before any list
        return None
    return guards.requests.seqs_of(request.request_id, recorded_after)
