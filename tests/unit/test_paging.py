"""What PagerDuty hears for each decision, over in-memory ports: who gets paged, with which
dedup key, and what is left alone. The client and the Events API: tests/integration/test_pagerduty.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from prompt_rollback.domain.paging import (
    SUMMARY_LIMIT,
    ChangeEvent,
    Incident,
    PagedPrompt,
    PagerReport,
    rollout_paused,
)
from prompt_rollback.domain.policy_config import PolicyConfig
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.service import RollbackService

from tests.unit.fakes import InMemoryLedger, InMemoryNotifier, InMemoryRegistry

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass
class RecordingPager:
    """Our own Pager port, recorded: what the service asked PagerDuty to do."""

    calls: list[tuple[str, str]] = field(default_factory=list)

    def trigger(self, incident: Incident) -> PagerReport:
        self.calls.append(("trigger", incident.dedup_key))
        return PagerReport("triggered", dedup_key=incident.dedup_key)

    def resolve(self, dedup_key: str) -> PagerReport:
        self.calls.append(("resolve", dedup_key))
        return PagerReport("resolved", dedup_key=dedup_key)

    def record_change(self, event: ChangeEvent) -> PagerReport:
        self.calls.append(("change", event.details["rollback_id"]))
        return PagerReport("sent")


def _service(registry: InMemoryRegistry, pager: RecordingPager, ledger: InMemoryLedger) -> RollbackService:
    return RollbackService(
        Journal(
            registries=lambda provider: registry,
            ledger=ledger,
            notifier=InMemoryNotifier(),
            policy=PolicyConfig(),
            pager=pager,
            clock=lambda: NOW,
        )
    )


def _request(request_id: str = "rb-1", **fields: object) -> RollbackRequest:
    return RollbackRequest(
        request_id=request_id, prompt_name="support-answer", alerted_version=7, received_at=NOW, **fields
    )


def test_an_alert_with_no_known_good_version_pages_a_person():
    registry, pager, ledger = InMemoryRegistry(versions=frozenset({7})), RecordingPager(), InMemoryLedger()
    result = _service(registry, pager, ledger).handle(_request())
    assert result.outcome == "skipped"
    assert pager.calls == [("trigger", "rb-1")]
    [*_, decision] = ledger.items["langfuse#support-answer"]
    assert decision["pagerduty"] == {"status": "triggered", "detail": "", "dedup_key": "rb-1"}


def test_a_person_who_forced_a_missing_version_reads_the_answer_and_is_not_paged():
    pager = RecordingPager()
    service = _service(InMemoryRegistry(), pager, InMemoryLedger())
    result = service.handle(_request(forced=True, rollback_to=99, actor="jane@example.com", reason="drill"))
    assert result.outcome == "skipped"
    assert pager.calls == []


def test_a_stale_alert_tells_pagerduty_nothing():
    pager, ledger = RecordingPager(), InMemoryLedger()
    _service(InMemoryRegistry(production=6), pager, ledger).handle(_request())
    assert pager.calls == []
    assert "pagerduty" not in ledger.items["langfuse#support-answer"][-1]


def test_a_rollout_paused_on_an_inconclusive_analysis_is_one_incident_per_rollout():
    prompt = PagedPrompt("support-answer", "langfuse", 6, 7, "prod")
    paused = rollout_paused("rollout-42", prompt, "canary and stable within noise after 2 h" * 100)
    assert paused.dedup_key == "rollout-42"
    assert paused.source == "prompt-rollback/prod/langfuse/support-answer"
    assert paused.summary.startswith("support-answer (langfuse) v6 -> v7: rollout paused")
    assert len(paused.summary) == SUMMARY_LIMIT
