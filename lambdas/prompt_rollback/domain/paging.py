"""What PagerDuty is told: an incident when a person is needed (its rollback id is the dedup key,
so a retry never opens a second one), its resolution, and a change event per move of production."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from prompt_rollback.domain.audit import iso_utc
from prompt_rollback.domain.policy import Decision, Outcome
from prompt_rollback.domain.requests import cut

# The Events API v2 refuses a summary over 1024 characters; details are kept short to match.
SUMMARY_LIMIT = 1024
DETAIL_LIMIT = 1000
# Decisions that leave the bad version live until a person acts.
PAGED_OUTCOMES = frozenset({Outcome.FAILED, Outcome.PROPOSED, Outcome.NEEDS_PERSON})
_HEADLINES = {
    Outcome.FAILED: "rollback failed",
    Outcome.PROPOSED: "rollback waiting for approval",
    Outcome.NEEDS_PERSON: "needs a person",
    Outcome.SKIPPED: "no version to roll back to",
}


@dataclass(frozen=True)
class PagerReport:
    """What PagerDuty answered, kept on the audit record beside Slack's outcome."""

    status: str  # triggered | resolved | sent | failed | not_configured
    detail: str = ""
    dedup_key: str = ""


@dataclass(frozen=True)
class PagedPrompt:
    """Which prompt an incident or change is about, and between which versions."""

    name: str
    provider: str
    from_version: int | None
    to_version: int | None
    stage: str = ""

    @property
    def source(self) -> str:
        """PagerDuty's `source`: the system affected."""
        where = f"{self.stage}/" if self.stage else ""
        return f"prompt-rollback/{where}{self.provider}/{self.name}"

    def headline(self, what: str) -> str:
        versions = f"v{_version(self.from_version)} -> v{_version(self.to_version)}"
        return f"{self.name} ({self.provider}) {versions}: {what}"


@dataclass(frozen=True)
class Incident:
    dedup_key: str
    summary: str
    source: str
    details: Mapping[str, str] = field(default_factory=dict)
    severity: str = "critical"


@dataclass(frozen=True)
class ChangeEvent:
    summary: str
    source: str
    timestamp: str  # ISO-8601 UTC: when production moved
    details: Mapping[str, str] = field(default_factory=dict)


def _version(version: int | None) -> str:
    return "?" if version is None else str(version)


def _details(**values: str) -> dict[str, str]:
    return {name: cut(value, DETAIL_LIMIT) for name, value in values.items() if value}


def pages(decision: Decision) -> bool:
    """Whether a decision leaves the bad version live until a person acts."""
    return decision.outcome in PAGED_OUTCOMES or decision.needs_a_person


def incident(rollback_id: str, prompt: PagedPrompt, what: str, reason: str) -> Incident:
    """One incident per rollback id: re-triggering it while open changes nothing in PagerDuty."""
    return Incident(
        dedup_key=rollback_id,
        summary=cut(prompt.headline(f"{what}; {reason}" if reason else what), SUMMARY_LIMIT),
        source=prompt.source,
        details=_details(rollback_id=rollback_id, reason=reason, stage=prompt.stage),
    )


def decision_incident(rollback_id: str, prompt: PagedPrompt, decision: Decision) -> Incident:
    return incident(rollback_id, prompt, _HEADLINES.get(decision.outcome, "needs a person"), decision.reason)


def rollout_paused(rollout_id: str, prompt: PagedPrompt, reason: str) -> Incident:
    """A rollout paused on an inconclusive analysis: a person decides whether it goes on."""
    return incident(rollout_id, prompt, "rollout paused, analysis inconclusive", reason)


def production_moved(
    rollback_id: str, prompt: PagedPrompt, reason: str, actor: str, when: datetime
) -> ChangeEvent:
    """A change event: PagerDuty shows it beside the service's incidents."""
    return ChangeEvent(
        summary=cut(prompt.headline(f"production moved by prompt-rollback; {reason}"), SUMMARY_LIMIT),
        source=prompt.source,
        timestamp=iso_utc(when),
        details=_details(rollback_id=rollback_id, actor=actor, reason=reason, stage=prompt.stage),
    )
