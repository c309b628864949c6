"""The ports as the jobs use them: the registry of a request, Slack that never raises, and a
decision record appended wherever the head of the chain is by then."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prompt_rollback.domain.audit_record import LedgerRecord
from prompt_rollback.domain.policy import Decision
from prompt_rollback.domain.policy_config import PolicyConfig
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import LedgerConflict, RollbackInProgress
from prompt_rollback.ports import APPEND_ATTEMPTS, AuditLedger, Notifier, PromptRegistry, SlackOutcome
from prompt_rollback.rollback.records import RollbackResult, audit_record, notice, result_of


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Journal:
    registries: Callable[[str], PromptRegistry]
    ledger: AuditLedger
    notifier: Notifier
    policy: PolicyConfig
    stage: str = ""
    clock: Callable[[], datetime] = field(default=_utc_now)

    def registry(self, request: RollbackRequest) -> PromptRegistry:
        return self.registries(request.provider)

    def notify(self, request: RollbackRequest, decision: Decision) -> SlackOutcome:
        try:
            return self.notifier.notify(notice(request, decision, self.stage, self.clock()))
        except Exception as error:  # a notifier must never take a rollback down with it
            return SlackOutcome("failed", type(error).__name__)

    def record_decision(
        self,
        request: RollbackRequest,
        decision: Decision,
        slack: SlackOutcome,
        after: LedgerRecord | None,
        *,
        observed: int | None,
        registry_request_id: str = "",
        error: str = "",
    ) -> RollbackResult:
        """A decision is recorded whatever else was appended meanwhile: it follows the newest record."""
        record = audit_record(
            request,
            decision,
            "decision",
            observed=observed,
            stage=self.stage,
            now=self.clock(),
            slack=slack,
            registry_request_id=registry_request_id,
            error=error,
        )
        for _ in range(APPEND_ATTEMPTS):
            try:
                return result_of(self.ledger.append(record, after))
            except LedgerConflict:
                newest = self.ledger.recent(request.prompt_key, 1)
                after = newest[0] if newest else None
        raise RollbackInProgress(f"{request.prompt_key}: ledger kept changing while recording a decision")
