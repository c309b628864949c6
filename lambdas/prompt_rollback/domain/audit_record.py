"""One audit record, typed: what the service appends, the CLI prints and local mode reports.
Untrusted text is cut to fit and the cut fields listed in `cut`, so a record always fits
DynamoDB's 400 KB item and the audit of a request can always be written."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from prompt_rollback.domain.audit import canonical_json
from prompt_rollback.domain.changes import CHANGE_RECORD_KIND, ProductionChange
from prompt_rollback.domain.interactions import FollowupOutcome
from prompt_rollback.domain.ledger_schema import ITEM_SIZE_LIMIT_BYTES
from prompt_rollback.domain.paging import PagerReport
from prompt_rollback.domain.policy import Outcome
from prompt_rollback.domain.provenance import Provenance
from prompt_rollback.domain.requests import (
    MAX_LABEL_VALUE_LENGTH,
    MAX_NAME_LENGTH,
    MAX_URL_LENGTH,
    cut,
    cut_labels,
)
from prompt_rollback.domain.rollout_record import ROLLOUT_KINDS, RolloutRecord

# A followup is what happened to a rollback after its decision, linked by `rollback_id`: a click
# that changed nothing (refused, rejected, stale, expired), a recovery or an overdue one.
RecordKind = Literal["intent", "decision", "followup"]

# The same limits and mark as a request's (domain/requests.py): what the webhook already cut is
# stored as it is, and what reaches the ledger another way (a manual payload) is cut alike.
TEXT_LIMIT = MAX_URL_LENGTH  # reasons, summaries, URLs, error messages
SHORT_LIMIT = MAX_NAME_LENGTH  # names, ids, label keys
LABEL_VALUE_LIMIT = MAX_LABEL_VALUE_LENGTH
MAX_LABELS = 64
# What a record may take at most, with room to spare for the keys, seq and the two hashes.
RECORD_BUDGET_BYTES = ITEM_SIZE_LIMIT_BYTES // 2


@dataclass(frozen=True)
class SlackReport:
    status: str
    detail: str = ""
    channel: str = ""  # Slack app mode: the incident's message, which clicks and follow-ups update
    ts: str = ""


@dataclass(frozen=True)
class AuditRecord:
    prompt_key: str
    prompt_name: str
    provider: str
    kind: RecordKind
    outcome: Outcome | FollowupOutcome
    request_id: str
    from_version: int | None
    to_version: int | None
    observed_production: int | None
    reason: str
    basis: str
    actor: str
    mode: str
    request_reason: str
    environment: str
    stage: str
    received_at: str
    recorded_at: str
    trigger: Mapping[str, Any] | None = None  # the alert, as Trigger.model_dump(mode="json")
    provider_target: Mapping[str, str] = field(default_factory=dict)
    # Decisions only:
    slack: SlackReport | None = None
    registry_request_id: str = ""
    error: str = ""
    # Followups only: the rollback it is about, the button, how long recovery took.
    rollback_id: str = ""
    click: str = ""
    recovery_seconds: int | None = None
    resolved_at: str = ""
    # What PagerDuty was told and answered (an incident, its resolution, a change event); absent
    # from the item when there was nothing to tell it.
    pagerduty: PagerReport | None = None
    # A person's action (a click, the CLI): what vouched for them; absent from the item otherwise.
    provenance: Provenance | None = None
    # Which fields were cut to fit (dotted paths); absent from the item when nothing was.
    cut: tuple[str, ...] = ()
    # Set by the ledger when appended:
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""

    # ---- reading ------------------------------------------------------------------------
    @property
    def is_decision(self) -> bool:
        return self.kind == "decision"

    @property
    def trigger_alertname(self) -> str:
        return str((self.trigger or {}).get("alertname", ""))

    @property
    def trigger_fingerprint(self) -> str:
        return str((self.trigger or {}).get("fingerprint", ""))

    # to_item() is exactly what the ledger hashes and stores (domain/audit.py seals it), so its keys
    # stay the ones records have always had; from_item() reads any stored record back, old ones included.
    # ---- the stored shape -----------------------------------------------------------------
    def to_item(self) -> dict[str, Any]:
        """The fields as stored and hashed (seq, prev_hash and hash only once sealed)."""
        item: dict[str, Any] = {
            "prompt_key": self.prompt_key,
            "prompt_name": self.prompt_name,
            "provider": self.provider,
            "kind": self.kind,
            "outcome": self.outcome.value,
            "request_id": self.request_id,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "observed_production": self.observed_production,
            "reason": self.reason,
            "basis": self.basis,
            "actor": self.actor,
            "mode": self.mode,
            "request_reason": self.request_reason,
            "environment": self.environment,
            "stage": self.stage,
            "received_at": self.received_at,
            "recorded_at": self.recorded_at,
            "trigger": dict(self.trigger) if self.trigger is not None else None,
            "provider_target": dict(self.provider_target),
        }
        if self.kind == "decision":
            slack = self.slack or SlackReport("not_sent")
            item["slack"] = {"status": slack.status, "detail": slack.detail}
            if slack.ts:
                item["slack"].update(channel=slack.channel, ts=slack.ts)
            item["registry_request_id"] = self.registry_request_id
            item["error"] = self.error
        if self.kind == "followup":
            item["rollback_id"] = self.rollback_id
            for name, value in (
                ("click", self.click),
                ("recovery_seconds", self.recovery_seconds),
                ("resolved_at", self.resolved_at),
            ):
                if value not in ("", None):
                    item[name] = value
        if self.pagerduty is not None:
            paged = self.pagerduty
            item["pagerduty"] = {"status": paged.status, "detail": paged.detail}
            if paged.dedup_key:
                item["pagerduty"]["dedup_key"] = paged.dedup_key
        if self.provenance is not None:
            item["provenance"] = self.provenance.model_dump(mode="json")
        if self.cut:
            item["cut"] = list(self.cut)
        if self.seq:
            item.update(seq=self.seq, prev_hash=self.prev_hash, hash=self.hash)
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> AuditRecord:
        slack = item.get("slack")
        kind: RecordKind = "intent" if item.get("kind") == "intent" else "decision"
        if item.get("kind") == "followup":
            kind = "followup"
        outcome: Outcome | FollowupOutcome = (
            FollowupOutcome(item["outcome"]) if kind == "followup" else Outcome(item.get("outcome", "failed"))
        )
        recovery = item.get("recovery_seconds")
        paged = item.get("pagerduty")
        provenance = item.get("provenance")
        return cls(
            prompt_key=str(item["prompt_key"]),
            prompt_name=str(item.get("prompt_name", "")),
            provider=str(item.get("provider", "")),
            kind=kind,
            outcome=outcome,
            request_id=str(item.get("request_id", "")),
            from_version=_optional_int(item.get("from_version")),
            to_version=_optional_int(item.get("to_version")),
            observed_production=_optional_int(item.get("observed_production")),
            reason=str(item.get("reason", "")),
            basis=str(item.get("basis", "")),
            actor=str(item.get("actor", "")),
            mode=str(item.get("mode", "")),
            request_reason=str(item.get("request_reason", "") or ""),
            environment=str(item.get("environment", "") or ""),
            stage=str(item.get("stage", "") or ""),
            received_at=str(item.get("received_at", "")),
            recorded_at=str(item.get("recorded_at", "")),
            trigger=item.get("trigger") or None,
            provider_target={str(k): str(v) for k, v in (item.get("provider_target") or {}).items()},
            slack=SlackReport(
                str(slack.get("status", "")),
                str(slack.get("detail", "")),
                str(slack.get("channel", "")),
                str(slack.get("ts", "")),
            )
            if isinstance(slack, Mapping)
            else None,
            rollback_id=str(item.get("rollback_id", "") or ""),
            click=str(item.get("click", "") or ""),
            recovery_seconds=None if recovery is None else int(recovery),
            resolved_at=str(item.get("resolved_at", "") or ""),
            registry_request_id=str(item.get("registry_request_id", "") or ""),
            error=str(item.get("error", "") or ""),
            pagerduty=PagerReport(
                str(paged.get("status", "")), str(paged.get("detail", "")), str(paged.get("dedup_key", ""))
            )
            if isinstance(paged, Mapping)
            else None,
            provenance=Provenance.model_validate(provenance) if isinstance(provenance, Mapping) else None,
            cut=tuple(str(path) for path in item.get("cut") or ()),
            seq=int(item.get("seq", 0) or 0),
            prev_hash=str(item.get("prev_hash", "")),
            hash=str(item.get("hash", "")),
        )

    # ---- bounding ------------------------------------------------------------------------
    def bounded(self) -> AuditRecord:
        """This record with every untrusted string cut to its limit and the cuts listed."""
        cuts: list[str] = list(self.cut)

        def fit(path: str, value: str, limit: int = TEXT_LIMIT) -> str:
            if len(value) <= limit:
                return value
            cuts.append(path)
            return cut(value, limit)

        trigger = _bounded_trigger(self.trigger, fit, cuts) if self.trigger is not None else None
        record = replace(
            self,
            prompt_name=fit("prompt_name", self.prompt_name),
            reason=fit("reason", self.reason),
            basis=fit("basis", self.basis),
            actor=fit("actor", self.actor, SHORT_LIMIT),
            request_reason=fit("request_reason", self.request_reason),
            environment=fit("environment", self.environment, SHORT_LIMIT),
            error=fit("error", self.error),
            registry_request_id=fit("registry_request_id", self.registry_request_id, SHORT_LIMIT),
            provider_target={
                fit("provider_target.<key>", key, SHORT_LIMIT): fit(
                    f"provider_target.{key[:SHORT_LIMIT]}", value, LABEL_VALUE_LIMIT
                )
                for key, value in list(self.provider_target.items())[:MAX_LABELS]
            },
            trigger=trigger,
        )
        if len(self.provider_target) > MAX_LABELS:
            cuts.append("provider_target")
        record = replace(record, cut=tuple(dict.fromkeys(cuts)))
        if len(canonical_json(record.to_item()).encode()) > RECORD_BUDGET_BYTES and record.trigger:
            # Only reachable with many long keys at once; the labels are the one part to give up.
            trimmed = {**record.trigger, "labels": {}}
            record = replace(record, trigger=trimmed, cut=(*record.cut, "trigger.labels"))
        return record


def _bounded_trigger(
    trigger: Mapping[str, Any], fit: Callable[[str, str, int], str], cuts: list[str]
) -> dict[str, Any]:
    bounded: dict[str, Any] = {}
    for key, value in trigger.items():
        if key == "labels" and isinstance(value, Mapping):
            labels, dropped = cut_labels({str(name): str(text) for name, text in value.items()})
            if dropped or labels != {str(name): str(text) for name, text in value.items()}:
                cuts.append("trigger.labels")
            bounded["labels"] = labels
        elif isinstance(value, str):
            bounded[key] = fit(f"trigger.{key}", value, TEXT_LIMIT)
        else:
            bounded[key] = value
    return bounded


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


# What a prompt's chain holds: our intents and decisions, the changes people made, and rollouts.
LedgerRecord = AuditRecord | ProductionChange | RolloutRecord
# One of them, where what comes back is the same kind of record that went in (the ledger's append).
SameLedgerRecord = TypeVar("SameLedgerRecord", AuditRecord, ProductionChange, RolloutRecord)


def ours(records: Sequence[LedgerRecord]) -> list[AuditRecord]:
    """Our intents, decisions and followups, without the changes people made (in the given order)."""
    return [r for r in records if isinstance(r, AuditRecord)]


def record_from_item(item: Mapping[str, Any]) -> LedgerRecord:
    """Any stored item as its typed record, by its kind."""
    if item.get("kind") == CHANGE_RECORD_KIND:
        return ProductionChange.from_item(item)
    if item.get("kind") in ROLLOUT_KINDS:
        return RolloutRecord.from_item(item)
    return AuditRecord.from_item(item)
