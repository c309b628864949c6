"""A rollout's state, folded from its ledger records, and what each event does to it. Pure: the
service reads the records, asks here, appends what comes back and makes the registry follow."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from prompt_rollback.domain.audit import iso_utc, parse_iso_utc
from prompt_rollback.domain.audit_record import AuditRecord, LedgerRecord
from prompt_rollback.domain.canary.analysis import StepWindow
from prompt_rollback.domain.changes import ProductionChange
from prompt_rollback.domain.policy import Outcome
from prompt_rollback.domain.rollout_plan import FULL_SHARE, PlanStep, RolloutPlan
from prompt_rollback.domain.rollout_record import RolloutEvent, RolloutRecord

RolloutStatus = Literal["progressing", "waiting_approval", "paused", "baking", "promoted", "aborted"]
TERMINAL: frozenset[str] = frozenset({"promoted", "aborted"})


@dataclass(frozen=True)
class Rollout:
    rollout_id: str
    prompt_key: str
    prompt_name: str
    provider: str
    candidate: int
    stable: int
    plan: RolloutPlan
    started_at: datetime
    started_by: str
    provider_target: Mapping[str, str] = field(default_factory=dict)
    status: RolloutStatus = "progressing"
    step: int = 0
    share: int = 0
    step_started_at: datetime | None = None
    production: int | None = None
    next_tick: int | None = None
    ticks_issued: int = 0  # the highest tick number any record scheduled: a new chain starts above it
    waiting_since: datetime | None = None
    bake_until: datetime | None = None
    last_analysis: Mapping[str, Any] | None = None
    windows: Mapping[int, StepWindow] = field(default_factory=dict)
    p_values: Mapping[str, float] = field(default_factory=dict)
    tick_keys: frozenset[str] = frozenset()
    # A production move someone else made during the rollout (who, to which version): it stops it.
    outside_move: tuple[str, int | None] | None = None
    reason: str = ""
    last: RolloutRecord | None = None
    slack_channel: str = ""  # the rollout's Slack message, once posted (app mode)
    slack_ts: str = ""

    @property
    def active(self) -> bool:
        return self.status not in TERMINAL

    @property
    def current_step(self) -> PlanStep:
        return self.plan.steps[self.step]

    def waiting_for(self) -> str:
        """What the rollout waits for, in words people read in `rollout status`."""
        if self.status == "waiting_approval":
            approval = self.current_step.approval
            names = ", ".join(approval.approvers) if approval else "an approver"
            return f"approval by one of {names} to leave {self.share} %"
        if self.status == "progressing":
            reasons = (self.last_analysis or {}).get("reasons") or []
            return "analysis: " + ("; ".join(str(r) for r in reasons) or "first look pending")
        if self.status == "paused":
            return f"a person: resume or abort ({self.reason})"
        if self.status == "baking" and self.bake_until is not None:
            return f"bake until {iso_utc(self.bake_until)}"
        return ""

    def status_view(self) -> dict[str, Any]:
        """`rollout status --format json`."""
        return {
            "rollout_id": self.rollout_id,
            "prompt": self.prompt_name,
            "provider": self.provider,
            "state": self.status,
            "share": self.share,
            "candidate": self.candidate,
            "stable": self.stable,
            "step": self.step,
            "steps": [s.share for s in self.plan.steps],
            "analysis": dict(self.last_analysis or {}),
            "waiting_for": self.waiting_for(),
            "started_at": iso_utc(self.started_at),
            "started_by": self.started_by,
            "reason": self.reason,
            "notes": self.plan.notes.model_dump(),
        }


def started(record: RolloutRecord) -> Rollout:
    return Rollout(
        rollout_id=record.rollout_id,
        prompt_key=record.prompt_key,
        prompt_name=record.prompt_name,
        provider=record.provider,
        candidate=record.candidate,
        stable=record.stable,
        plan=RolloutPlan.model_validate(record.detail["plan"]),
        started_at=parse_iso_utc(record.recorded_at),
        started_by=record.actor,
        provider_target=record.provider_target,
        share=record.share,
        step_started_at=parse_iso_utc(record.recorded_at),
        production=record.production,
        next_tick=record.next_tick,
        ticks_issued=record.next_tick or 0,
        last=record,
        slack_channel=record.slack_channel,
        slack_ts=record.slack_ts,
    )


def applied(rollout: Rollout, record: RolloutRecord) -> Rollout:
    at = parse_iso_utc(record.recorded_at)
    common: dict[str, Any] = {
        "share": record.share,
        "step": record.step,
        "production": record.production,
        "next_tick": record.next_tick,
        "ticks_issued": max(rollout.ticks_issued, record.next_tick or 0),
        "last": record,
        "slack_channel": record.slack_channel or rollout.slack_channel,
        "slack_ts": record.slack_ts or rollout.slack_ts,
    }
    if record.kind == "analysis":
        detail = record.detail
        windows = dict(rollout.windows)
        if detail.get("window"):
            windows[record.step] = StepWindow.model_validate(detail["window"])
        p_values = {str(k): float(v) for k, v in (detail.get("p_values") or {}).items()}
        return replace(
            rollout,
            **common,
            last_analysis=detail,
            windows=windows,
            p_values=p_values or rollout.p_values,
            tick_keys=rollout.tick_keys | {record.tick_key},
        )
    status = _STATUS_AFTER.get(record.kind, rollout.status)
    if record.kind == "step":
        return replace(rollout, **common, status=status, step_started_at=at, waiting_since=None)
    if record.kind == "approval_requested":
        return replace(rollout, **common, status=status, waiting_since=at)
    if record.kind == "promoted":
        return replace(rollout, **common, status=status, bake_until=at + rollout.plan.bake.duration)
    if record.kind in ("paused", "aborted", "baked"):
        return replace(rollout, **common, status=status, reason=record.reason)
    return replace(rollout, **common, status=status)


_STATUS_AFTER: dict[str, RolloutStatus] = {
    "step": "progressing",
    "approval_requested": "waiting_approval",
    "approved": "progressing",
    "paused": "paused",
    "resumed": "progressing",
    "aborted": "aborted",
    "promoted": "baking",
    "baked": "promoted",
}


def _outside_move(record: LedgerRecord, rollout: Rollout) -> tuple[str, int | None] | None:
    """A production move not made by this rollout: a person's change, or an alert's rollback."""
    if isinstance(record, ProductionChange):
        if record.changed_at < rollout.started_at and record.to_version == rollout.stable:
            return None  # made before the start, which read production after it: its event came late
        return record.actor or "someone", record.to_version
    if isinstance(record, AuditRecord) and record.is_decision and record.outcome == Outcome.ROLLED_BACK:
        return f"rollback {record.request_id} ({record.actor})", record.to_version
    return None


def fold(records_oldest_first: Iterable[LedgerRecord]) -> Rollout | None:
    """The newest rollout of a prompt as its records leave it (None: never one)."""
    rollout: Rollout | None = None
    for record in records_oldest_first:
        if isinstance(record, RolloutRecord):
            if record.kind == "rollout_started":
                rollout = started(record)
            elif rollout is not None and record.rollout_id == rollout.rollout_id:
                rollout = applied(rollout, record)
        elif rollout is not None and rollout.active and rollout.outside_move is None:
            moved = _outside_move(record, rollout)
            if moved is not None:
                rollout = replace(rollout, outside_move=moved)
    return rollout


def new_record(
    rollout: Rollout,
    kind: RolloutEvent,
    now: datetime,
    actor: str,
    reason: str = "",
    **fields: Any,
) -> RolloutRecord:
    """A record about `rollout`, carrying its state after the event (the fields given override)."""
    values: dict[str, Any] = {
        "step": rollout.step,
        "share": rollout.share,
        "production": rollout.production,
        "next_tick": rollout.next_tick,
        **fields,
    }
    return RolloutRecord(
        prompt_key=rollout.prompt_key,
        prompt_name=rollout.prompt_name,
        provider=rollout.provider,
        kind=kind,
        rollout_id=rollout.rollout_id,
        candidate=rollout.candidate,
        stable=rollout.stable,
        actor=actor,
        reason=reason,
        recorded_at=iso_utc(now),
        provider_target=rollout.provider_target,
        slack_channel=rollout.slack_channel,
        slack_ts=rollout.slack_ts,
        **values,
    )


def is_last_split_step(plan: RolloutPlan, step: int) -> bool:
    return plan.steps[step + 1].share == FULL_SHARE if step + 1 < len(plan.steps) else True
