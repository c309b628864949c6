"""Pure mapping between requests, decisions and audit records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prompt_rollback.domain import guard_summary
from prompt_rollback.domain.audit import iso_utc
from prompt_rollback.domain.audit_record import AuditRecord, LedgerRecord, RecordKind, SlackReport, ours
from prompt_rollback.domain.paging import PagerReport
from prompt_rollback.domain.policy import Decision, Outcome
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.ports import PromptRef, RollbackNotice, SlackOutcome

UNDO_PREFIX = guard_summary.UNDO_PREFIX  # domain/interactions.derived_request_id of an Undo click


@dataclass(frozen=True)
class RollbackResult:
    """What the worker answers for one request (and the idempotency record keeps)."""

    rollback_id: str
    outcome: str
    reason: str
    from_version: int | None
    to_version: int | None
    slack: str
    seq: int
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        answer = dict(self.__dict__)
        if not self.replayed:
            del answer["replayed"]
        return answer


def result_of(record: AuditRecord, replayed: bool = False) -> RollbackResult:
    return RollbackResult(
        rollback_id=record.request_id,
        outcome=record.outcome.value,
        reason=record.reason,
        from_version=record.from_version,
        to_version=record.to_version,
        slack=record.slack.status if record.slack else "",
        seq=record.seq,
        replayed=replayed,
    )


def prompt_ref(request: RollbackRequest) -> PromptRef:
    return PromptRef(request.prompt_name, dict(request.provider_target))


def audit_record(
    request: RollbackRequest,
    decision: Decision,
    kind: RecordKind,
    *,
    observed: int | None,
    stage: str,
    now: datetime,
    slack: SlackOutcome | None = None,
    registry_request_id: str = "",
    error: str = "",
    pagerduty: PagerReport | None = None,
) -> AuditRecord:
    trigger = request.trigger
    return AuditRecord(
        prompt_key=request.prompt_key,
        prompt_name=request.prompt_name,
        provider=request.provider,
        kind=kind,
        outcome=decision.outcome,
        request_id=request.request_id,
        from_version=decision.from_version,
        to_version=decision.to_version,
        observed_production=observed,
        reason=decision.reason,
        basis=decision.basis,
        actor=request.actor,
        mode=request.mode,
        request_reason=request.reason,
        environment=request.environment,
        stage=stage,
        received_at=iso_utc(request.received_at),
        recorded_at=iso_utc(now),
        trigger=trigger.model_dump(mode="json") if trigger else None,
        provider_target=dict(request.provider_target),
        slack=SlackReport(
            slack.status,
            slack.detail,
            # Slack app mode: where the incident's message is, so a click or a follow-up updates it.
            slack.channel or request.slack_channel,
            slack.ts or request.slack_ts,
        )
        if slack
        else None,
        registry_request_id=registry_request_id,
        error=error,
        pagerduty=pagerduty,
        provenance=request.provenance,
    )


def notice(request: RollbackRequest, decision: Decision, stage: str, now: datetime) -> RollbackNotice:
    trigger = request.trigger
    outcome = decision.outcome.value
    if outcome == Outcome.ROLLED_BACK.value and request.request_id.startswith(UNDO_PREFIX):
        outcome = "undone"  # an undo's move is shown as what it is, not as another rollback
    return RollbackNotice(
        rollback_id=request.request_id,
        outcome=outcome,
        prompt_name=request.prompt_name,
        provider=request.provider,
        from_version=decision.from_version,
        to_version=decision.to_version,
        reason=decision.reason if not request.reason else f"{decision.reason}; {request.reason}",
        basis=decision.basis,
        actor=request.actor,
        mode=request.mode,
        when=now,
        stage=stage,
        environment=request.environment,
        alertname=trigger.alertname if trigger else "",
        summary=trigger.summary if trigger else "",
        generator_url=trigger.generator_url if trigger else "",
        runbook_url=trigger.runbook_url if trigger else "",
        target=", ".join(f"{key}={value}" for key, value in sorted(request.provider_target.items())),
        channel=request.slack_channel,
        message_ts=request.slack_ts,
    )


# ---- what the ledger says (records newest first) -----------------------------------------
def settled_decision(records: Sequence[LedgerRecord], request_id: str) -> AuditRecord | None:
    """This request's decision if it was already made and stands: a re-delivery gets it back.

    A failed decision does not stand: a redrive from the dead-letter queue is a new attempt.
    """
    for record in ours(records):
        if record.request_id == request_id:
            if record.is_decision and record.outcome is not Outcome.FAILED:
                return record
            return None
    return None


def decision_of_intent(intent: AuditRecord) -> Decision:
    return Decision(
        Outcome.ROLLED_BACK,
        intent.reason or "rolled back",
        intent.from_version,
        intent.to_version,
        intent.basis,
    )
