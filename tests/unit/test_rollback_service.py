"""The rollback service over in-memory ports: the lock, the move and its read-back, the resume
after a crash, and what the last attempt records. No AWS, no HTTP."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from prompt_rollback.domain.audit import verify_chain
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import (
    ConfigurationError,
    RegistryRejected,
    RegistryUnavailable,
    RollbackInProgress,
    VerificationFailed,
)
from prompt_rollback.rollback.attempts import MANUAL, Attempt, ParkedInDeadLetterQueue, run_attempt

from tests.unit.fakes import NOW, InMemoryLedger

FIRST, LAST = Attempt(final=False, from_queue=True), Attempt(final=True, from_queue=True)


def raising(error: Exception):
    """A fault for the fakes' hooks: every call raises `error`."""

    def hook(*_: object) -> None:
        raise error

    return hook


def request(request_id: str = "rb-1", **fields) -> RollbackRequest:
    return RollbackRequest(
        request_id=request_id,
        prompt_name="support-answer",
        alerted_version=fields.pop("alerted_version", 7),
        received_at=NOW,
        **fields,
    )


def kinds(ledger: InMemoryLedger) -> list[tuple[str, str, str]]:
    return [(r.kind, r.request_id, r.outcome.value) for r in ledger.records()]


def test_a_rollback_takes_the_lock_moves_reads_back_announces_and_records(
    service, registry, ledger, notifier
):
    result = run_attempt(service, request(), FIRST)
    assert (result.outcome, result.from_version, result.to_version) == ("rolled_back", 7, 6)
    assert registry.moves == [6]
    assert kinds(ledger) == [("intent", "rb-1", "rolled_back"), ("decision", "rb-1", "rolled_back")]
    assert ledger.records()[-1].registry_request_id == "req-1"
    assert [n.outcome for n in notifier.notices] == ["rolled_back"]
    assert verify_chain(ledger.chain("langfuse#support-answer")) == []


def test_lock_contention_another_request_holding_the_intent_is_retried_not_moved(
    service, registry, ledger, clock
):
    # rb-1's worker wrote its intent and stopped (say, mid-move); rb-2 arrives a minute later.
    registry.before_move = raising(RegistryUnavailable("Langfuse timed out"))
    with pytest.raises(RegistryUnavailable):
        run_attempt(service, request("rb-1"), FIRST)
    clock.now += timedelta(minutes=1)
    with pytest.raises(RollbackInProgress, match="being rolled back by rb-1"):
        run_attempt(service, request("rb-2"), FIRST)
    assert registry.moves == []
    assert kinds(ledger) == [("intent", "rb-1", "rolled_back")]


def test_lock_lost_on_the_last_attempt_is_recorded_as_skipped_not_failed(
    service, registry, ledger, notifier, clock
):
    registry.before_move = raising(RegistryUnavailable("Langfuse timed out"))
    with pytest.raises(RegistryUnavailable):
        run_attempt(service, request("rb-1"), FIRST)
    clock.now += timedelta(minutes=1)
    result = run_attempt(service, request("rb-2", forced=True, actor="jane"), MANUAL)
    assert result.outcome == "skipped"
    assert result.reason.startswith("another rollback is in progress")
    assert kinds(ledger)[-1] == ("decision", "rb-2", "skipped")
    assert "failed" not in [n.outcome for n in notifier.notices]


def test_an_abandoned_intent_no_longer_blocks_the_prompt(service, registry, ledger, clock):
    registry.before_move = raising(RegistryUnavailable("Langfuse timed out"))
    with pytest.raises(RegistryUnavailable):
        run_attempt(service, request("rb-1"), FIRST)
    registry.before_move = lambda version: None
    clock.now += timedelta(minutes=16)
    assert run_attempt(service, request("rb-2"), FIRST).outcome == "rolled_back"
    assert registry.moves == [6]


def test_resume_after_a_crash_between_the_move_and_the_audit_finishes_without_moving_again(
    service, registry, ledger, notifier
):
    def crash_on_decision(record):
        if record.kind == "decision":
            raise RuntimeError("worker died")

    ledger.before_append = crash_on_decision
    with pytest.raises(RuntimeError):
        run_attempt(service, request(), FIRST)
    assert registry.production == 6 and kinds(ledger) == [("intent", "rb-1", "rolled_back")]

    ledger.before_append = lambda record: None
    result = run_attempt(service, request(), FIRST)  # SQS delivers the message again
    assert result.outcome == "rolled_back"
    assert result.reason.endswith("(audit completed on retry)")
    assert registry.moves == [6]
    assert kinds(ledger) == [("intent", "rb-1", "rolled_back"), ("decision", "rb-1", "rolled_back")]


def test_resume_when_the_move_never_happened_moves_once(service, registry, ledger):
    registry.before_move = raising(RegistryUnavailable("Langfuse timed out"))
    with pytest.raises(RegistryUnavailable):
        run_attempt(service, request(), FIRST)
    registry.before_move = lambda version: None
    assert run_attempt(service, request(), FIRST).outcome == "rolled_back"
    assert registry.moves == [6]


def test_the_last_attempts_failure_is_audited_announced_and_parked(service, registry, ledger, notifier):
    registry.before_move = raising(RegistryUnavailable("Langfuse: HTTP 503"))
    with pytest.raises(RegistryUnavailable):
        run_attempt(service, request(), FIRST)
    with pytest.raises(ParkedInDeadLetterQueue) as parked:
        run_attempt(service, request(), LAST)
    assert parked.value.result.outcome == "failed"
    [*_, decision] = ledger.records()
    assert (decision.kind, decision.outcome.value) == ("decision", "failed")
    assert decision.error == "Langfuse: HTTP 503"
    assert (decision.from_version, decision.to_version) == (7, 6)  # from the intent
    assert notifier.notices[-1].outcome == "failed"
    assert registry.production == 7


def test_a_failure_no_retry_can_fix_is_audited_at_once_and_not_parked(service, registry, ledger):
    registry.before_move = raising(RegistryRejected("Langfuse move label: HTTP 404"))
    result = run_attempt(service, request(), FIRST)
    assert result.outcome == "failed"
    assert kinds(ledger)[-1] == ("decision", "rb-1", "failed")


def test_a_verify_mismatch_is_retried_and_audited_as_failed_on_the_last_attempt(service, registry, ledger):
    registry.read_back = 7  # the move is accepted, but production still reads v7 afterwards
    with pytest.raises(VerificationFailed, match="production reads v7 after moving it to v6"):
        run_attempt(service, request(), FIRST)
    with pytest.raises(ParkedInDeadLetterQueue):
        run_attempt(service, request(), LAST)  # resumes: production still at v7, so it moves again
    assert registry.moves == [6, 6]
    decision = ledger.records()[-1]
    assert decision.outcome.value == "failed"
    assert "production reads v7 after moving it to v6" in decision.reason
    assert verify_chain(ledger.chain("langfuse#support-answer")) == []


def test_a_configuration_error_changes_nothing_by_hand_and_is_parked_from_the_queue(
    service, registry, ledger, notifier
):
    missing = ConfigurationError("LANGFUSE_PUBLIC_KEY", "is not set")

    def unconfigured(provider: str):
        raise missing

    service.journal = replace(service.journal, registries=unconfigured)
    with pytest.raises(ConfigurationError):
        run_attempt(service, request(forced=True, actor="jane"), MANUAL)
    with pytest.raises(ConfigurationError):
        run_attempt(service, request(), FIRST)
    assert ledger.records() == [] and notifier.notices == []
    with pytest.raises(ParkedInDeadLetterQueue):
        run_attempt(service, request(), LAST)
    [decision] = ledger.records()
    assert decision.outcome.value == "failed"
    assert decision.error == "LANGFUSE_PUBLIC_KEY is not set"


def test_a_redelivery_gets_the_first_decision_back_and_changes_nothing(service, registry, ledger, notifier):
    first = run_attempt(service, request(), FIRST)
    again = run_attempt(service, request(), FIRST)
    assert again.replayed and (again.outcome, again.seq) == (first.outcome, first.seq)
    assert registry.moves == [6] and len(ledger.records()) == 2 and len(notifier.notices) == 1


def test_a_failed_request_redriven_from_the_dlq_is_tried_again(service, registry, ledger):
    registry.before_move = raising(RegistryUnavailable("Langfuse: HTTP 503"))
    with pytest.raises(ParkedInDeadLetterQueue):
        run_attempt(service, request(), LAST)
    registry.before_move = lambda version: None
    assert run_attempt(service, request(), FIRST).outcome == "rolled_back"
    assert registry.moves == [6]
    assert verify_chain(ledger.chain("langfuse#support-answer")) == []
