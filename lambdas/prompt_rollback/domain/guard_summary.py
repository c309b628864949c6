"""What the guards need from a prompt's whole ledger, carried on every chain record (`guards`):
our rollbacks, people's moves, what decisions saw in production, the open intent. Folded in record
by record, so a decision reads it from the head instead of scanning the newest records."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from prompt_rollback.domain.audit import iso_utc, parse_iso_utc
from prompt_rollback.domain.policy import Outcome, PastChange, PastDecision

GUARDS_FIELD = "guards"  # the item attribute that holds it (hashed with the record)
UNDO_PREFIX = "undo-"  # domain/interactions.derived_request_id of an Undo click
# Every entry of the last day is kept (the daily limit), and the newest few beyond it (the
# cooldown, the no-cascade walk of at most MAX_ROLLBACK_STEPS); older ones once per move or
# version, which is all the target choice reads: the summary grows with versions, not with alerts.
DAY = timedelta(days=1)
KEEP_NEWEST = 32
# What the lock and a resume read of an open intent (its trigger and labels stay on the record,
# so a summary never holds a second copy of a large item).
_INTENT_FIELDS = (
    "prompt_key",
    "prompt_name",
    "provider",
    "kind",
    "outcome",
    "request_id",
    "from_version",
    "to_version",
    "observed_production",
    "reason",
    "basis",
    "recorded_at",
    "seq",
    "prev_hash",
    "hash",  # a resume appends its decision right after the intent
)
T = TypeVar("T")


@dataclass(frozen=True)
class GuardSummary:
    rollbacks: tuple[PastDecision, ...] = ()  # our decisions that moved production (undos too), newest first
    changes: tuple[PastChange, ...] = ()  # moves people made, newest first
    observed: tuple[PastDecision, ...] = ()  # the newest decision that saw each version in production
    open_intent: Mapping[str, Any] | None = None  # the newest intent without its decision, as stored
    last_change_seq: int = 0

    def history(self) -> list[PastDecision]:
        """Our past decisions as the policy reads them, newest first: an undo says a rollback was
        wrong, not that the version it moved away from is bad, so it is left out."""
        rollbacks = (d for d in self.rollbacks if not d.request_id.startswith(UNDO_PREFIX))
        return sorted((*rollbacks, *self.observed), key=lambda d: d.recorded_at, reverse=True)

    def who_moved(self, version: int | None) -> str:
        """Who put `version` in production, from the newest change record that did."""
        for change in self.changes:
            if change.to_version == version:
                return f"{change.actor} at {change.changed_at:%Y-%m-%d %H:%M}Z"
        return "someone outside prompt-rollback (not on record yet)"

    def to_item(self) -> dict[str, Any]:
        return {
            "rollbacks": [_decision_item(d) for d in self.rollbacks],
            "changes": [_change_item(c) for c in self.changes],
            "observed": [_decision_item(d) for d in self.observed],
            "open_intent": dict(self.open_intent) if self.open_intent is not None else None,
            "last_change_seq": self.last_change_seq,
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> GuardSummary:
        intent = item.get("open_intent")
        return cls(
            rollbacks=tuple(_decision(d) for d in item.get("rollbacks") or ()),
            changes=tuple(_change(c) for c in item.get("changes") or ()),
            observed=tuple(_decision(d) for d in item.get("observed") or ()),
            open_intent=dict(intent) if isinstance(intent, Mapping) else None,
            last_change_seq=int(item.get("last_change_seq") or 0),
        )


def advance(summary: GuardSummary, item: Mapping[str, Any]) -> GuardSummary:
    """The summary once `item` (a stored record with its seq, any kind) is appended."""
    kind, seq = item.get("kind"), int(item.get("seq") or 0)
    if kind == "change":
        if item.get("change") == "version_deleted":
            return replace(summary, last_change_seq=seq)
        change = PastChange(
            parse_iso_utc(str(item["changed_at"])),
            _int(item.get("from_version")),
            _int(item.get("to_version")),
            str(item.get("actor", "")),
        )
        changes = _pruned(
            (change, *summary.changes), lambda c: c.changed_at, lambda c: (c.from_version, c.to_version)
        )
        return replace(summary, changes=changes, last_change_seq=seq)
    if kind == "intent":
        return replace(summary, open_intent={k: item.get(k) for k in _INTENT_FIELDS})
    if kind != "decision":
        return summary  # a followup: what happened to a rollback after it, not a guard
    open_intent = summary.open_intent
    if open_intent is not None and open_intent.get("request_id") == item.get("request_id"):
        open_intent = None
    summary, decision = replace(summary, open_intent=open_intent), _decision(item)
    if decision.outcome is not Outcome.ROLLED_BACK:
        return _observed(summary, decision)
    rollbacks = _pruned(
        (decision, *summary.rollbacks), lambda d: d.recorded_at, lambda d: (d.from_version, d.to_version)
    )
    return replace(summary, rollbacks=rollbacks)


def summarize(items_oldest_first: Iterable[Mapping[str, Any]]) -> GuardSummary:
    """The summary of a whole chain: for a head written before summaries were carried."""
    summary = GuardSummary()
    for item in items_oldest_first:
        summary = advance(summary, item)
    return summary


def _observed(summary: GuardSummary, decision: PastDecision) -> GuardSummary:
    """What a decision that moved nothing saw in production: the newest one per version."""
    version = decision.observed_production
    if version is None:
        return summary
    seen = replace(decision, from_version=None, to_version=None, request_id="")
    return replace(
        summary, observed=(seen, *(d for d in summary.observed if d.observed_production != version))
    )


def _pruned(
    entries: Sequence[T], at: Callable[[T], datetime], move: Callable[[T], Hashable]
) -> tuple[T, ...]:
    """Newest first: the last day and the newest few, then the newest entry of each move."""
    if not entries:
        return ()
    newest: datetime = at(entries[0])
    kept, moves = [], set()
    for index, entry in enumerate(entries):
        key = move(entry)
        if index < KEEP_NEWEST or newest - at(entry) < DAY or key not in moves:
            kept.append(entry)
        moves.add(key)
    return tuple(kept)


def _decision_item(d: PastDecision) -> dict[str, Any]:
    return {
        "outcome": d.outcome.value,
        "recorded_at": iso_utc(d.recorded_at),
        "from_version": d.from_version,
        "to_version": d.to_version,
        "observed_production": d.observed_production,
        "request_id": d.request_id,
    }


def _decision(item: Mapping[str, Any]) -> PastDecision:
    return PastDecision(
        Outcome(str(item.get("outcome"))),
        parse_iso_utc(str(item["recorded_at"])),
        _int(item.get("from_version")),
        _int(item.get("to_version")),
        _int(item.get("observed_production")),
        request_id=str(item.get("request_id", "") or ""),
    )


def _change_item(c: PastChange) -> dict[str, Any]:
    return {
        "changed_at": iso_utc(c.changed_at),
        "from_version": c.from_version,
        "to_version": c.to_version,
        "actor": c.actor,
    }


def _change(item: Mapping[str, Any]) -> PastChange:
    return PastChange(
        parse_iso_utc(str(item["changed_at"])),
        _int(item.get("from_version")),
        _int(item.get("to_version")),
        str(item.get("actor", "")),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
