"""Production changes made outside our worker, as at most one `change` record per move.
Langfuse sends a gaining and a losing event per move, in any order, each up to four times; the
ledger decides what is news. Pure; untrusted text is cut so a record fits DynamoDB's 400 KB."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Literal

from prompt_rollback.domain.audit import iso_utc, parse_iso_utc
from prompt_rollback.domain.guard_summary import GuardSummary
from prompt_rollback.domain.langfuse_events import PromptVersionEvent
from prompt_rollback.domain.production_order import (
    CLOCK_AHEAD_ALLOWED,
    SAME_MOVE,
    Holding,
    holder_at,
    holdings,
    placed_at,
    record_time,
)

# `left`: a version lost production (the losing half of a move, naming where it came from);
# `observed`: production as the registry showed it when nothing on record said so.
ChangeKind = Literal["moved", "created_in_production", "removed", "version_deleted", "left", "observed"]
ChangeSource = Literal["langfuse-webhook", "cloudtrail", "registry"]
CHANGE_RECORD_KIND = "change"
MAX_TEXT = 500
MAX_EVENT_IDS = 10


def _cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class ProductionChange:
    """One move of a production pointer that someone (not our worker) made: a `change` record.

    The ledger's typed record of this concept, beside audit_record.AuditRecord (intents and
    decisions): `to_item()` is what the ledger hashes and stores, `from_item()` reads it back.
    """

    prompt_key: str
    prompt_name: str
    provider: str
    change: ChangeKind
    from_version: int | None
    to_version: int | None
    actor: str
    changed_at: datetime
    source: ChangeSource
    source_event_ids: tuple[str, ...]
    # The version the event was about (the deleted one, say); for a move the one that gained it.
    version: int | None = None
    source_request_id: str = ""
    reason: str = ""
    provider_target: Mapping[str, str] = field(default_factory=dict)
    # Set when recorded, and by the ledger when appended:
    recorded_at: str = ""
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""

    kind: ClassVar[Literal["change"]] = "change"

    @property
    def is_decision(self) -> bool:
        return False

    def stamped(self, recorded_at: datetime) -> ProductionChange:
        return replace(self, recorded_at=iso_utc(recorded_at))

    def bounded(self) -> ProductionChange:
        """Already bounded: `to_item` cuts every untrusted string to fit."""
        return self

    def to_item(self) -> dict[str, Any]:
        """The ledger item's content (seq, prev_hash and hash only once sealed)."""
        item: dict[str, Any] = {
            "prompt_key": _cut(self.prompt_key, 600),
            "prompt_name": _cut(self.prompt_name),
            "provider": self.provider,
            "kind": CHANGE_RECORD_KIND,
            "change": self.change,
            "version": self.version,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "actor": _cut(self.actor, 300),
            "reason": _cut(self.reason),
            "changed_at": iso_utc(self.changed_at),
            "recorded_at": self.recorded_at,
            "source": self.source,
            "source_event_ids": [_cut(i, 200) for i in self.source_event_ids[:MAX_EVENT_IDS]],
            "source_request_id": _cut(self.source_request_id, 200),
            "provider_target": {
                _cut(k, 100): _cut(v, 2048) for k, v in list(self.provider_target.items())[:8]
            },
        }
        if self.seq:
            item.update(seq=self.seq, prev_hash=self.prev_hash, hash=self.hash)
        return item

    def fields(self, recorded_at: datetime) -> dict[str, Any]:
        return self.stamped(recorded_at).to_item()

    @classmethod
    def from_item(cls, record: Mapping[str, Any]) -> ProductionChange:
        return cls(
            prompt_key=str(record["prompt_key"]),
            prompt_name=str(record.get("prompt_name", "")),
            provider=str(record.get("provider", "")),
            change=record["change"],
            from_version=_optional_int(record.get("from_version")),
            to_version=_optional_int(record.get("to_version")),
            actor=str(record.get("actor", "")),
            changed_at=parse_iso_utc(str(record["changed_at"])),
            source=record["source"],
            source_event_ids=tuple(str(i) for i in record.get("source_event_ids") or ()),
            version=_optional_int(record.get("version")),
            source_request_id=str(record.get("source_request_id", "")),
            reason=str(record.get("reason", "")),
            provider_target={str(k): str(v) for k, v in (record.get("provider_target") or {}).items()},
            recorded_at=str(record.get("recorded_at", "")),
            seq=int(record.get("seq", 0) or 0),
            prev_hash=str(record.get("prev_hash", "")),
            hash=str(record.get("hash", "")),
        )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class OpenIntent:
    request_id: str
    from_version: int | None
    to_version: int | None


@dataclass(frozen=True)
class RecordedMove:
    """A change record as the next event is matched against it: a move, or a `left` half."""

    at: datetime
    change: str
    from_version: int | None
    to_version: int | None


@dataclass(frozen=True)
class OurMove:
    """One of our rollbacks (an intent or a rolled-back decision): Langfuse echoes it as events."""

    request_id: str
    at: datetime
    from_version: int | None
    to_version: int | None


@dataclass(frozen=True)
class LedgerView:
    """What one prompt's ledger says about production, on one time line (domain/production_order.py)."""

    production: int | None = None
    known: bool = False
    open_intent: OpenIntent | None = None
    seen_event_ids: frozenset[str] = frozenset()
    timeline: tuple[Holding, ...] = ()
    moves: tuple[RecordedMove, ...] = ()
    ours: tuple[OurMove, ...] = ()

    def holder_at(self, at: datetime) -> Holding | None:
        return holder_at(self.timeline, at)

    def move_near(self, at: datetime, not_to: int | None = None) -> RecordedMove | None:
        """The recorded move (not a `left` half) of the same Langfuse request as a change at `at`."""
        near = [
            m
            for m in self.moves
            if m.change not in ("left", "version_deleted")
            and abs(m.at - at) <= SAME_MOVE
            and (not_to is None or m.to_version != not_to)
        ]
        return min(near, key=lambda m: abs(m.at - at)) if near else None

    def left_near(self, at: datetime, version: int) -> bool:
        return any(
            m.change == "left" and m.from_version == version and abs(m.at - at) <= SAME_MOVE
            for m in self.moves
        )

    def our_move_near(
        self, at: datetime, *, to: int | None = None, away_from: int | None = None
    ) -> OurMove | None:
        for move in self.ours:
            if abs(move.at - at) > CLOCK_AHEAD_ALLOWED:
                continue
            if (to is not None and move.to_version == to) or (
                away_from is not None and move.from_version == away_from
            ):
                return move
        return None


# Not news: an event whose id is already on a change record (a re-delivery); a half of a move
# already on record; an event matching one of our own rollbacks (our decision records it).
def ledger_view(records_newest_first: Sequence[Mapping[str, Any]]) -> LedgerView:
    decided: set[str] = set()
    intent: OpenIntent | None = None
    seen: set[str] = set()
    moves: list[RecordedMove] = []
    ours: list[OurMove] = []
    for record in records_newest_first:
        kind = record.get("kind")
        if kind == CHANGE_RECORD_KIND:
            seen.update(str(i) for i in record.get("source_event_ids") or ())
            moves.append(
                RecordedMove(
                    record_time(record),
                    str(record.get("change")),
                    _optional_int(record.get("from_version")),
                    _optional_int(record.get("to_version")),
                )
            )
        elif kind == "decision":
            decided.add(str(record.get("request_id")))
        elif kind == "intent" and intent is None and str(record.get("request_id")) not in decided:
            intent = OpenIntent(
                str(record.get("request_id")),
                _optional_int(record.get("from_version")),
                _optional_int(record.get("to_version")),
            )
        if kind == "intent" or (kind == "decision" and record.get("outcome") == "rolled_back"):
            ours.append(
                OurMove(
                    str(record.get("request_id")),
                    record_time(record),
                    _optional_int(record.get("from_version")),
                    _optional_int(record.get("to_version")),
                )
            )
    timeline = holdings(records_newest_first)
    newest = timeline[-1] if timeline else None
    return LedgerView(
        production=newest.version if newest else None,
        known=newest is not None,
        open_intent=intent,
        seen_event_ids=frozenset(seen),
        timeline=tuple(timeline),
        moves=tuple(moves),
        ours=tuple(ours),
    )


def summary_view(guards: GuardSummary) -> LedgerView:
    """The same view from the head's guard summary: the whole chain's moves, our rollbacks and the
    versions decisions saw, however many records came after them."""
    timeline = guards.timeline()
    newest = timeline[-1] if timeline else None
    moves = [RecordedMove(m.at, m.change, m.from_version, m.to_version) for m in guards.moves]
    moves += [
        RecordedMove(
            record_time(left),
            "left",
            _optional_int(left.get("from_version")),
            _optional_int(left.get("to_version")),
        )
        for left in guards.pending_lefts
    ]
    ours = [OurMove(d.request_id, d.recorded_at, d.from_version, d.to_version) for d in guards.rollbacks]
    pending = guards.open_intent
    intent = None
    if pending is not None:
        intent = OpenIntent(
            str(pending.get("request_id")),
            _optional_int(pending.get("from_version")),
            _optional_int(pending.get("to_version")),
        )
        at = parse_iso_utc(str(pending.get("recorded_at")))
        ours.append(OurMove(intent.request_id, at, intent.from_version, intent.to_version))
    return LedgerView(
        production=newest.version if newest else None,
        known=newest is not None,
        open_intent=intent,
        seen_event_ids=frozenset(guards.event_ids),
        timeline=tuple(timeline),
        moves=tuple(moves),
        ours=tuple(ours),
    )


class _Unknown:
    """The registry was not asked (or could not say) where production is now."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
ProductionNow = int | None | _Unknown


@dataclass(frozen=True)
class Ignored:
    """An event that is not a new production change, and why (logged, and returned to Langfuse)."""

    reason: str


def langfuse_change(
    event: PromptVersionEvent,
    view: LedgerView,
    production_now: ProductionNow = UNKNOWN,
    received_at: datetime | None = None,
) -> ProductionChange | Ignored:
    """The production change one Langfuse event reveals, given what the ledger knows.

    A move fires two events, in any order: the version gaining `production` (the move, from the
    holder just before it on the time line) and the one losing it (the version it came from). Each
    is placed at its own time, so neither an unrelated event nor a late one hides a move.
    """
    if event.id in view.seen_event_ids:
        return Ignored(f"event {event.id} already recorded")
    at = placed_at(event.changed_at, received_at)
    version = event.prompt.version
    if event.action == "deleted":
        before = view.holder_at(at)
        held = event.prompt.in_production or (before is not None and before.version == version)
        return _from_event(event, "version_deleted", version if held else None, None, version)
    if event.prompt.in_production:
        return _gained(event, view, at)
    if event.action == "created":
        return Ignored(f"v{version} was created without production: not a production change")
    return _lost(event, view, at, production_now)


def _gained(event: PromptVersionEvent, view: LedgerView, at: datetime) -> ProductionChange | Ignored:
    version = event.prompt.version
    near = view.move_near(at)
    if near is not None and near.to_version == version:
        return Ignored(f"the move to v{version} is already on record")
    ours = view.our_move_near(at, to=version)
    if ours is not None:
        return Ignored(f"our own rollback {ours.request_id} to v{version}")
    before = view.holder_at(at)
    if before is not None and before.version == version:
        return Ignored(f"v{version} already holds production on record")
    left = next(
        (
            m.from_version
            for m in sorted(view.moves, key=lambda m: abs(m.at - at))
            if m.change == "left" and abs(m.at - at) <= SAME_MOVE and m.to_version in (None, version)
        ),
        None,
    )
    from_version = left if left is not None else (before.version if before is not None else None)
    kind: ChangeKind = "created_in_production" if event.action == "created" else "moved"
    return _from_event(event, kind, from_version, version, version)


def _lost(
    event: PromptVersionEvent, view: LedgerView, at: datetime, production_now: ProductionNow
) -> ProductionChange | Ignored:
    version = event.prompt.version
    ours = view.our_move_near(at, away_from=version)
    if ours is not None:
        return Ignored(f"our own rollback {ours.request_id} away from v{version}")
    if view.left_near(at, version):
        return Ignored(f"v{version} leaving production is already on record")
    near = view.move_near(at, not_to=version)
    if near is not None:
        if near.from_version == version:
            return Ignored(f"the move from v{version} is already on record")
        created = near.to_version if near.change == "created_in_production" else None
        if created is not None and version > created:
            return Ignored(f"v{version} is newer than v{created}, created in production: it never held it")
        # The gainer's half came first and could not know where production came from.
        return _from_event(event, "left", version, near.to_version, version)
    before = view.holder_at(at)
    if before is None:
        # Nothing on record: this event is the only word on where the next move comes from.
        return _from_event(event, "left", version, None, version)
    if before.version != version:
        return Ignored(f"v{version} did not hold production on record: not a production change")
    if isinstance(production_now, _Unknown):
        return Ignored(f"production left v{version}; the event of the version gaining it records the move")
    if production_now == version:
        return Ignored(f"registry still shows v{version} in production")
    kind: ChangeKind = "moved" if production_now is not None else "removed"
    return _from_event(event, kind, version, production_now, production_now)


def observed_change(
    view: LedgerView, provider: str, prompt_name: str, version: int | None, actor: str, now: datetime
) -> ProductionChange | Ignored:
    """Production as the registry shows it now, recorded when the ledger does not already say so
    (at install, or a move no event told us of), so the next move's `from` is known, not guessed."""
    if view.known and view.production == version:
        return Ignored(
            f"v{version} holds production on record already"
            if version
            else "nothing holds production on record already"
        )
    return ProductionChange(
        prompt_key=f"{provider}#{prompt_name}",
        prompt_name=prompt_name,
        provider=provider,
        change="observed",
        from_version=view.production,
        to_version=version,
        actor=actor,
        changed_at=now,
        source="registry",
        source_event_ids=(),
        version=version,
        reason="production as the registry showed it; nothing on record said so",
    )


def _from_event(
    event: PromptVersionEvent,
    change: ChangeKind,
    from_version: int | None,
    to_version: int | None,
    version: int | None,
) -> ProductionChange:
    return ProductionChange(
        prompt_key=f"langfuse#{event.prompt.name}",
        prompt_name=event.prompt.name,
        provider="langfuse",
        change=change,
        from_version=from_version,
        to_version=to_version,
        actor=event.actor,
        changed_at=event.changed_at,
        source="langfuse-webhook",
        source_event_ids=(event.id,),
        version=version,
        # Langfuse says nothing about why a label moved; the version's commit message is the nearest why.
        reason=f"v{event.prompt.version} commit message: {event.prompt.commit_message}"
        if event.prompt.commit_message
        else "",
    )
