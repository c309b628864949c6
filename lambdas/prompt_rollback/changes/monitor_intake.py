"""Langfuse monitor alerts in: the ledger's production moves and Langfuse's production decide
(domain/langfuse_monitors.py), and the request goes through the same `triage` and FIFO queue as
an Alertmanager alert. A skip is answered and logged with its reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from prompt_rollback.changes.recorder import ProductionReader, production_now
from prompt_rollback.domain.guard_summary import GuardSummary
from prompt_rollback.domain.intake import triage
from prompt_rollback.domain.langfuse_monitors import (
    MonitorAlertEvent,
    MonitorSkipped,
    ProductionMove,
    as_alertmanager_body,
    decide,
    prompt_named,
)
from prompt_rollback.ports import AuditLedger, RollbackQueue


@dataclass(frozen=True)
class MonitorOutcome:
    """What became of one monitor alert: queued (with the request id), or skipped and why."""

    status: str  # "queued" | "skipped"
    detail: str
    prompt_name: str = ""
    version: int | None = None
    request_id: str = ""
    misconfigured: bool = False


class MonitorAlertIntake:
    def __init__(
        self,
        ledger: AuditLedger,
        queue: RollbackQueue,
        production_reader: ProductionReader | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._ledger = ledger
        self._queue = queue
        self._production_reader = production_reader
        self._clock = clock or (lambda: datetime.now(UTC))

    def receive(self, event: MonitorAlertEvent) -> MonitorOutcome:
        named = prompt_named(event.payload)
        if isinstance(named, MonitorSkipped):
            return _skipped(named)
        prompt_name = named[0]
        guards = self._ledger.head(f"langfuse#{prompt_name}").guards
        verdict = decide(event, moves_on_record(guards), production_now(self._production_reader, prompt_name))
        if isinstance(verdict, MonitorSkipped):
            return _skipped(verdict)
        intake = triage(as_alertmanager_body(event, verdict), received_at=self._clock())
        if not intake.accepted:
            reason = intake.skipped[0].reason if intake.skipped else "not a rollback request"
            return MonitorOutcome("skipped", reason, prompt_name, verdict.version, misconfigured=True)
        # Raises if SQS refuses: the handler answers 503 and Langfuse retries the same id.
        self._queue.enqueue(intake.accepted)
        request = intake.accepted[0]
        return MonitorOutcome(
            "queued",
            f"rollback of {prompt_name} v{verdict.version} queued: it held production since "
            f"{verdict.held_since.isoformat()}, before the monitor's window began",
            prompt_name,
            verdict.version,
            request.request_id,
        )


def moves_on_record(guards: GuardSummary) -> list[ProductionMove]:
    """Every move of production the prompt's whole ledger keeps: people's changes, our rollbacks."""
    moves = [
        ProductionMove(c.changed_at, c.from_version, c.to_version, c.actor or "someone")
        for c in guards.changes
    ]
    moves += [
        ProductionMove(d.recorded_at, d.from_version, d.to_version, "prompt-rollback")
        for d in guards.rollbacks
    ]
    return sorted(moves, key=lambda m: m.at, reverse=True)


def _skipped(verdict: MonitorSkipped) -> MonitorOutcome:
    return MonitorOutcome("skipped", verdict.reason, verdict.prompt_name, misconfigured=verdict.misconfigured)
