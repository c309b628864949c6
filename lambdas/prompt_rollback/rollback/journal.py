"""The ports as the jobs use them: the registry of a request, Slack and PagerDuty that never
raise, and a decision record appended wherever the head of the chain is by then."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prompt_rollback.domain.audit_record import LedgerRecord
from prompt_rollback.domain.paging import PagedPrompt, PagerReport, decision_incident, pages, production_moved
from prompt_rollback.domain.policy import Decision, Outcome
from prompt_rollback.domain.policy_config import PolicyConfig
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import LedgerConflict, RollbackInProgress
from prompt_rollback.ports import APPEND_ATTEMPTS, AuditLedger, Notifier, Pager, PromptRegistry, SlackOutcome
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
    pager: Pager | None = None  # None: the service alone, nothing paged (unit tests)

    def registry(self, request: RollbackRequest) -> PromptRegistry:
        return self.registries(request.provider)

    def notify(self, request: RollbackRequest, decision: Decision) -> SlackOutcome:
        try:
            return self.notifier.notify(notice(request, decision, self.stage, self.clock()))
        except Exception as error:  # a notifier must never take a rollback down with it
            return SlackOutcome("failed", type(error).__name__)

    def page(self, request: RollbackRequest, decision: Decision) -> PagerReport | None:
        """A change event for a move of production, an incident when a person is needed (the
        request id is its dedup key); None when PagerDuty has nothing to hear."""
        if self.pager is None:
            return None
        prompt = PagedPrompt(
            request.prompt_name, request.provider, decision.from_version, decision.to_version, self.stage
        )
        if decision.outcome is Outcome.ROLLED_BACK:
            reason = decision.reason if not request.reason else f"{decision.reason}; {request.reason}"
            event = production_moved(request.request_id, prompt, reason, request.actor, self.clock())
            return self.pager.record_change(event)
        if pages(decision):
            return self.pager.trigger(decision_incident(request.request_id, prompt, decision))
        return None

    def resolve(self, rollback_id: str) -> PagerReport | None:
        return self.pager.resolve(rollback_id) if self.pager is not None else None

    def record_without_move(
        self, request: RollbackRequest, decision: Decision, after: LedgerRecord | None, observed: int | None
    ) -> RollbackResult:
        """A decision that moves nothing: announced when people need to know, then recorded."""
        slack = self.notify(request, decision) if decision.notify else SlackOutcome("not_sent", "echo")
        return self.record_decision(request, decision, slack, after, observed=observed)

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
        """A decision is recorded whatever else was appended meanwhile: it follows the newest record.
        PagerDuty hears of it first, so its answer is on the record."""
        paged = self.page(request, decision)
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
            pagerduty=paged,
        )
        for _ in range(APPEND_ATTEMPTS):
            try:
                return result_of(self.ledger.append(record, after))
            except LedgerConflict:
                newest = self.ledger.recent(request.prompt_key, 1)
                after = newest[0] if newest else None
        raise RollbackInProgress(f"{request.prompt_key}: ledger kept changing while recording a decision")
