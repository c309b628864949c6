"""What the guards need from a prompt's whole ledger, carried on every chain record (`guards`):
our rollbacks, people's moves on production_order's time line, what decisions saw, the open intent.
Folded in record by record, so a decision reads it from the head instead of scanning the newest records."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from prompt_rollback.domain.audit import iso_utc, parse_iso_utc
from prompt_rollback.domain.policy import Outcome, PastChange, PastDecision, held_before
from prompt_rollback.domain.production_order import (
    HOLDING_CHANGES,
    OBSERVATION_SLACK,
    RESOLVED_CHANGES,
    Holding,
    holder_before,
    holding,
    left_half,
    move_from,
    record_time,
)
from prompt_rollback.domain.request_index import RequestIndex
from prompt_rollback.domain.rollout_record import ROLLOUT_KINDS

GUARDS_FIELD = "guards"  # the item attribute that holds it (hashed with the record)
UNDO_PREFIX = "undo-"  # domain/interactions.derived_request_id of an Undo click
# Every entry of the last day is kept (the daily limit), and the newest few beyond it (the
# cooldown, the no-cascade walk of at most MAX_ROLLBACK_STEPS); older ones once per move or
# version, which is all the target choice reads: the summary grows with versions, not with alerts.
DAY = timedelta(days=1)
KEEP_NEWEST = 32
# However long the history, the summary rides on every item, which DynamoDB caps at 400 KB: past
# this many entries the oldest moves (and versions seen) go, about 40 KB a list at most; a version
# rolled back this many distinct moves ago could be chosen as a target again.
MAX_KEPT = 200
# A losing half (`left`) waits here for its gaining half, which comes within seconds if at all.
PENDING_LEFTS = 8
# Event ids of the newest change records: a re-delivered event is known by its id.
KEEP_EVENT_IDS = 100
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
# What production_order reads of a `left` record, kept while it waits for its gaining half.
_LEFT_FIELDS = ("kind", "change", "changed_at", "recorded_at", "from_version", "to_version", "seq")
T = TypeVar("T")


@dataclass(frozen=True)
class PersonMove:
    """A person's move at its place on the time line (production_order.placed_at). Its "from" is
    resolved by production_order's rules, and again when a later record changes the answer: its
    losing half arriving, or a holding that turns out to sit just before it."""

    at: datetime
    seq: int
    change: str  # moved, created_in_production, removed, observed
    from_version: int | None
    to_version: int | None
    actor: str
    recorded_from: int | None  # what the record said when it was written
    left_from: int | None = None  # what its losing half said, once on record

    def as_change(self) -> PastChange:
        return PastChange(self.at, self.from_version, self.to_version, self.actor)

    def as_holding(self) -> Holding:
        return Holding(self.at, self.seq, self.to_version)


@dataclass(frozen=True)
class GuardSummary:
    rollbacks: tuple[PastDecision, ...] = ()  # our decisions that moved production (undos too), newest first
    moves: tuple[PersonMove, ...] = ()  # moves people made, newest first on the time line
    observed: tuple[PastDecision, ...] = ()  # the newest decision that saw each version in production
    open_intent: Mapping[str, Any] | None = None  # the newest intent without its decision, as stored
    last_change_seq: int = 0
    holdings: tuple[Holding, ...] = ()  # other words on production: rollouts, a deleted holder
    pending_lefts: tuple[Mapping[str, Any], ...] = ()  # losing halves whose gaining half is not on record
    event_ids: tuple[str, ...] = ()  # of the newest change records, newest first
    rollout_from: int = 0  # the seq of the newest rollout's first record (0: never one)
    requests: RequestIndex = field(default_factory=RequestIndex)  # the newest records of ours by request id

    @property
    def changes(self) -> tuple[PastChange, ...]:
        """People's moves as the policy reads them, newest first on the time line."""
        return tuple(m.as_change() for m in self.moves)

    def history(self) -> list[PastDecision]:
        """Our past decisions as the policy reads them, newest first: an undo says a rollback was
        wrong, not that the version it moved away from is bad, so it is left out."""
        rollbacks = (d for d in self.rollbacks if not d.request_id.startswith(UNDO_PREFIX))
        return sorted((*rollbacks, *self.observed), key=lambda d: d.recorded_at, reverse=True)

    def who_moved(self, version: int | None) -> str:
        """Who put `version` in production, from the newest change record that did."""
        for change in self.moves:
            if change.to_version == version:
                return f"{change.actor} at {change.at:%Y-%m-%d %H:%M}Z"
        return "someone outside prompt-rollback (not on record yet)"

    def timeline(self) -> list[Holding]:
        """Every word on who held production the summary keeps, oldest first (production_order)."""
        return sorted(
            (
                *(m.as_holding() for m in self.moves),
                *(_rollback_holding(d) for d in self.rollbacks),
                *(_observed_holding(d) for d in self.observed),
                *self.holdings,
                *self._intent_holding(),
            )
        )

    def _intent_holding(self) -> tuple[Holding, ...]:
        intent = self.open_intent
        word = holding(intent, int(intent.get("seq") or 0)) if intent is not None else None
        return () if word is None else (word,)

    def previous_production(self, current: int) -> int | None:
        """The version that held production right before `current`, when the ledger knows it."""
        found = held_before(current, self.changes, self.rollbacks)
        return found[0][0] if found else None

    def to_item(self) -> dict[str, Any]:
        return {
            "rollbacks": [_decision_item(d) for d in self.rollbacks],
            "moves": [_move_item(m) for m in self.moves],
            "observed": [_decision_item(d) for d in self.observed],
            "open_intent": dict(self.open_intent) if self.open_intent is not None else None,
            "last_change_seq": self.last_change_seq,
            "holdings": [_holding_item(h) for h in self.holdings],
            "pending_lefts": [dict(left) for left in self.pending_lefts],
            "event_ids": list(self.event_ids),
            "rollout_from": self.rollout_from,
            **self.requests.to_item(),
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> GuardSummary:
        intent = item.get("open_intent")
        return cls(
            rollbacks=tuple(_decision(d) for d in item.get("rollbacks") or ()),
            moves=tuple(_move(m) for m in item.get("moves") or ()),
            observed=tuple(_decision(d) for d in item.get("observed") or ()),
            open_intent=dict(intent) if isinstance(intent, Mapping) else None,
            last_change_seq=int(item.get("last_change_seq") or 0),
            holdings=tuple(_holding(h) for h in item.get("holdings") or ()),
            pending_lefts=tuple(dict(left) for left in item.get("pending_lefts") or ()),
            event_ids=tuple(str(i) for i in item.get("event_ids") or ()),
            rollout_from=int(item.get("rollout_from") or 0),
            requests=RequestIndex.from_item(item),
        )


def advance(summary: GuardSummary, item: Mapping[str, Any]) -> GuardSummary:
    """The summary once `item` (a stored record with its seq, any kind) is appended."""
    summary = replace(summary, requests=summary.requests.advanced(item))
    kind, seq = item.get("kind"), int(item.get("seq") or 0)
    if kind == "change":
        return _changed(summary, item, seq)
    if kind == "intent":
        summary = replace(summary, open_intent={k: item.get(k) for k in _INTENT_FIELDS})
        word = holding(item, seq)  # what it saw in production, as a decision's
        return summary if word is None else _resolved(summary, word)
    if kind in ROLLOUT_KINDS:
        if kind == "rollout_started":
            summary = replace(summary, rollout_from=seq)
        word = holding(item, seq)  # a promotion, or production baked back onto stable
        if word is None:
            return summary
        return _resolved(replace(summary, holdings=(word, *summary.holdings)[:KEEP_NEWEST]), word)
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
    return _resolved(replace(summary, rollbacks=rollbacks), _rollback_holding(decision))


def summarize(items_oldest_first: Iterable[Mapping[str, Any]]) -> GuardSummary:
    """The summary of a whole chain: for a head written before summaries were carried."""
    summary = GuardSummary()
    for item in items_oldest_first:
        summary = advance(summary, item)
    return summary


def _changed(summary: GuardSummary, item: Mapping[str, Any], seq: int) -> GuardSummary:
    """A change record: a person's move, a losing half, production first seen, or a delete."""
    ids = tuple(str(i) for i in item.get("source_event_ids") or ())
    summary = replace(summary, last_change_seq=seq, event_ids=(*ids, *summary.event_ids)[:KEEP_EVENT_IDS])
    what = item.get("change")
    if what == "left":
        return _left(summary, {k: item.get(k) for k in _LEFT_FIELDS})
    if what not in HOLDING_CHANGES:
        word = holding(item, seq)  # a delete of the version holding production; any other says nothing
        if word is None:
            return summary
        return _resolved(replace(summary, holdings=(word, *summary.holdings)[:KEEP_NEWEST]), word)
    at, to_version = record_time(item), _int(item.get("to_version"))
    recorded = _int(item.get("from_version"))
    move = PersonMove(at, seq, str(what), recorded, to_version, str(item.get("actor", "")), recorded)
    if what in RESOLVED_CHANGES:
        left = left_half(summary.pending_lefts, at, to_version)
        waiting = tuple(p for p in summary.pending_lefts if left_half([p], at, to_version) is None)
        before = holder_before(summary.timeline(), at, seq)
        move = replace(move, from_version=move_from(left, before, recorded), left_from=left)
        summary = replace(summary, pending_lefts=waiting)
    moves = _pruned(
        sorted((move, *summary.moves), key=lambda m: (m.at, m.seq), reverse=True),
        lambda m: m.at,
        lambda m: (m.from_version, m.to_version),
    )
    return _resolved(replace(summary, moves=moves), move.as_holding())


def _left(summary: GuardSummary, left: Mapping[str, Any]) -> GuardSummary:
    """A losing half: it names the "from" of its gaining half, on record already or still to come."""
    matching = [
        m
        for m in summary.moves
        if m.change in RESOLVED_CHANGES and m.left_from is None and left_half([left], m.at, m.to_version)
    ]
    if not matching:
        return replace(summary, pending_lefts=(left, *summary.pending_lefts)[:PENDING_LEFTS])
    at = record_time(left)
    gainer = min(matching, key=lambda m: abs(m.at - at))
    came_from = _int(left.get("from_version"))
    fixed = replace(
        gainer, left_from=came_from, from_version=move_from(came_from, None, gainer.recorded_from)
    )
    return replace(summary, moves=tuple(fixed if m == gainer else m for m in summary.moves))


def _resolved(summary: GuardSummary, word: Holding) -> GuardSummary:
    """Moves whose holder just before them is now `word` come from its version (unless their losing
    half said otherwise): an earlier record that arrived late moves no one else's "from"."""
    timeline = summary.timeline()

    def again(move: PersonMove) -> PersonMove:
        if move.change not in RESOLVED_CHANGES or move.left_from is not None or move.seq == word.order:
            return move
        before = holder_before(timeline, move.at, move.seq)
        if before is None or _key(before) != _key(word):
            return move
        return replace(move, from_version=move_from(None, before, move.recorded_from))

    return replace(summary, moves=tuple(again(m) for m in summary.moves))


def _key(word: Holding) -> tuple[datetime, int, int | None, bool]:
    return (word.at, word.order, word.version, word.observed)


def _rollback_holding(decision: PastDecision) -> Holding:
    return Holding(decision.recorded_at, 0, decision.to_version)


def _observed_holding(decision: PastDecision) -> Holding:
    # Weaker than a move, as production_order.holding places it.
    return Holding(decision.recorded_at - OBSERVATION_SLACK, 0, decision.observed_production, observed=True)


def _observed(summary: GuardSummary, decision: PastDecision) -> GuardSummary:
    """What a decision that moved nothing saw in production: the newest one per version."""
    version = decision.observed_production
    if version is None:
        return summary
    seen = replace(decision, from_version=None, to_version=None, request_id="")
    observed = (seen, *(d for d in summary.observed if d.observed_production != version))[:MAX_KEPT]
    return _resolved(replace(summary, observed=observed), _observed_holding(seen))


def _pruned(
    entries: Sequence[T], at: Callable[[T], datetime], move: Callable[[T], Hashable]
) -> tuple[T, ...]:
    """Newest first: the last day and the newest few, then the newest entry of each move; at most
    MAX_KEPT in all."""
    if not entries:
        return ()
    newest: datetime = at(entries[0])
    kept, moves = [], set()
    for index, entry in enumerate(entries):
        key = move(entry)
        if index < KEEP_NEWEST or newest - at(entry) < DAY or key not in moves:
            kept.append(entry)
            if len(kept) == MAX_KEPT:
                break
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


def _move_item(m: PersonMove) -> dict[str, Any]:
    return {
        "at": iso_utc(m.at),
        "seq": m.seq,
        "change": m.change,
        "from_version": m.from_version,
        "to_version": m.to_version,
        "actor": m.actor,
        "recorded_from": m.recorded_from,
        "left_from": m.left_from,
    }


def _move(item: Mapping[str, Any]) -> PersonMove:
    return PersonMove(
        parse_iso_utc(str(item["at"])),
        int(item.get("seq") or 0),
        str(item.get("change", "moved")),
        _int(item.get("from_version")),
        _int(item.get("to_version")),
        str(item.get("actor", "")),
        _int(item.get("recorded_from")),
        _int(item.get("left_from")),
    )


def _holding_item(h: Holding) -> dict[str, Any]:
    return {"at": iso_utc(h.at), "seq": h.order, "version": h.version}


def _holding(item: Mapping[str, Any]) -> Holding:
    return Holding(parse_iso_utc(str(item["at"])), int(item.get("seq") or 0), _int(item.get("version")))


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
