"""Production changes made outside our worker, as at most one `change` record per move.
Langfuse sends a gaining and a losing event per move, in any order, each up to four times; the
ledger decides what is news. Pure; untrusted text is cut so a record fits DynamoDB's 400 KB."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, ClassVar, Literal

from prompt_rollback.domain.audit import iso_utc, parse_iso_utc
from prompt_rollback.domain.langfuse_events import PromptVersionEvent
from prompt_rollback.domain.rollout_record import ROLLOUT_KINDS

ChangeKind = Literal["moved", "created_in_production", "removed", "version_deleted"]
ChangeSource = Literal["langfuse-webhook", "cloudtrail"]
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
class LedgerView:
    """What one prompt's ledger says about production, from its newest records."""

    production: int | None = None
    # When the newest recorded Langfuse change happened, by Langfuse's clock (never ours: an event
    # is compared with times from the same source, so clock skew cannot make a new event look old).
    production_since: datetime | None = None
    known: bool = False
    open_intent: OpenIntent | None = None
    seen_event_ids: frozenset[str] = frozenset()


# Not news: an event that agrees with the ledger's newest word on production (a change, our
# rolled-back decision, or what a decision or intent observed); an event whose id is already on
# a change record (a re-delivery); an event matching our own open intent (our decision records it).
def ledger_view(records_newest_first: Sequence[Mapping[str, Any]]) -> LedgerView:
    production: int | None = None
    since: datetime | None = None
    known = False
    decided: set[str] = set()
    intent: OpenIntent | None = None
    seen: set[str] = set()
    for record in records_newest_first:
        kind = record.get("kind")
        if kind == CHANGE_RECORD_KIND:
            seen.update(str(i) for i in record.get("source_event_ids") or ())
            if since is None and record.get("source") == "langfuse-webhook":
                since = parse_iso_utc(str(record["changed_at"]))
        if not known:
            if kind == CHANGE_RECORD_KIND and record.get("change") != "version_deleted":
                production, known = record.get("to_version"), True
            elif kind == CHANGE_RECORD_KIND and record.get("from_version") is not None:
                production, known = None, True  # the deleted version held production
            elif kind == "decision" and record.get("outcome") == "rolled_back":
                production, known = record.get("to_version"), True
            elif kind in ("decision", "intent") and record.get("observed_production") is not None:
                production, known = record.get("observed_production"), True
            elif kind in ROLLOUT_KINDS and record.get("production") is not None:
                production, known = record.get("production"), True  # where the rollout left production
        if kind == "decision":
            decided.add(str(record.get("request_id")))
        elif kind == "intent" and intent is None and str(record.get("request_id")) not in decided:
            intent = OpenIntent(
                str(record.get("request_id")), record.get("from_version"), record.get("to_version")
            )
    return LedgerView(production, since, known, intent, frozenset(seen))


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
) -> ProductionChange | Ignored:
    """The production change one Langfuse event reveals, given what the ledger knows.

    A version gaining `production` is the move (its `from` is the ledger's holder). A version
    losing it says only that production left: if the registry says where it went (`production_now`),
    the move is recorded now and the gainer's event is later recognised as known; otherwise the
    gainer's event records it.
    """
    prompt = event.prompt
    version = prompt.version
    if event.id in view.seen_event_ids:
        return Ignored(f"event {event.id} already recorded")
    if view.production_since is not None and event.changed_at < view.production_since:
        return Ignored("older than the newest production change on record")
    intent = view.open_intent
    if event.action == "deleted":
        held = prompt.in_production or (view.known and view.production == version)
        return _from_event(event, "version_deleted", version if held else None, None, version)
    if prompt.in_production:
        if view.known and view.production == version:
            return Ignored(f"v{version} already holds production on record")
        if intent is not None and intent.to_version == version:
            return Ignored(f"our own rollback {intent.request_id} to v{version}")
        kind: ChangeKind = "created_in_production" if event.action == "created" else "moved"
        return _from_event(event, kind, view.production, version, version)
    if event.action == "created" or not view.known or view.production != version:
        return Ignored(f"v{version} did not hold production on record: not a production change")
    if intent is not None and intent.from_version == version:
        return Ignored(f"our own rollback {intent.request_id} away from v{version}")
    if isinstance(production_now, _Unknown):
        return Ignored(f"production left v{version}; the event of the version gaining it records the move")
    if production_now == version:
        return Ignored(f"registry still shows v{version} in production")
    kind = "moved" if production_now is not None else "removed"
    return _from_event(event, kind, version, production_now, production_now)


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
