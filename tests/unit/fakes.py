"""In-memory implementations of the ports (prompt_rollback.ports), for the service's unit tests.

They keep the ports' contracts (the ledger appends only after the head it is given, and seals
records with the real hash chain), so the service cannot tell them from the adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prompt_rollback.domain.audit import GENESIS_HASH, iso_utc, seal
from prompt_rollback.domain.audit_record import AuditRecord, LedgerRecord, record_from_item
from prompt_rollback.domain.guard_summary import GUARDS_FIELD, GuardSummary, advance
from prompt_rollback.domain.policy import RegistryState
from prompt_rollback.errors import LedgerConflict
from prompt_rollback.ports import LedgerHead, PromptRef, RollbackNotice, SlackOutcome

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class Clock:
    """The journal's clock, which a test moves on by setting `now`."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class InMemoryRegistry:
    provider: str = "langfuse"
    production: int | None = 7
    versions: frozenset[int] = frozenset({1, 2, 3, 4, 5, 6, 7})
    moves: list[int] = field(default_factory=list)
    # Called before a move/read: raise from it to inject a fault.
    before_move: Callable[[int], None] = lambda version: None
    # What a read-back answers instead of the truth (a registry that lies), if set.
    read_back: int | None = None

    def read_state(self, ref: PromptRef) -> RegistryState:
        return RegistryState(self.production, self.versions)

    def read_production(self, ref: PromptRef) -> int | None:
        return self.read_back if self.read_back is not None else self.production

    def move_production(self, ref: PromptRef, version: int) -> str:
        self.before_move(version)
        self.moves.append(version)
        self.production = version
        return f"req-{len(self.moves)}"


@dataclass
class InMemoryLedger:
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Called with each record before it is stored: raise from it to inject a fault.
    before_append: Callable[[AuditRecord], None] = lambda record: None

    def recent(self, prompt_key: str, limit: int) -> list[LedgerRecord]:
        stored = self.items.get(prompt_key, [])
        return [record_from_item(item) for item in reversed(stored[-limit:])]

    def head(self, prompt_key: str) -> LedgerHead:
        stored = self.items.get(prompt_key, [])
        if not stored:
            return LedgerHead(None, GuardSummary())
        return LedgerHead(record_from_item(stored[-1]), GuardSummary.from_item(stored[-1][GUARDS_FIELD]))

    def since(self, prompt_key: str, seq: int) -> list[LedgerRecord]:
        return [record_from_item(item) for item in self.items.get(prompt_key, [])[max(seq, 1) - 1 :]]

    def of_request(self, prompt_key: str, request_id: str) -> list[LedgerRecord]:
        stored = self.items.get(prompt_key, [])
        return [record_from_item(item) for item in reversed(stored) if item.get("request_id") == request_id]

    def read(self, prompt_key: str, seq: int) -> LedgerRecord | None:
        stored = self.items.get(prompt_key, [])
        return record_from_item(stored[seq - 1]) if 0 < seq <= len(stored) else None

    def append(self, record: Any, after: LedgerRecord | None) -> Any:
        if isinstance(record, AuditRecord):
            self.before_append(record)
        stored = self.items.setdefault(record.prompt_key, [])
        seq = after.seq + 1 if after else 1
        if len(stored) >= seq:
            raise LedgerConflict(f"{record.prompt_key} seq {seq} already written")
        item = {**record.bounded().to_item(), "seq": seq}
        previous = GuardSummary.from_item(stored[seq - 2][GUARDS_FIELD]) if seq > 1 else GuardSummary()
        item = seal(
            {**item, GUARDS_FIELD: advance(previous, item).to_item()}, after.hash if after else GENESIS_HASH
        )
        stored.append(item)
        return type(record).from_item(item)

    def between(self, prompt_name: str, start: datetime, end: datetime) -> Iterator[AuditRecord]:
        for stored in self.items.values():
            for item in stored:
                if item["prompt_name"] == prompt_name and iso_utc(start) <= item["recorded_at"] < iso_utc(
                    end
                ):
                    yield AuditRecord.from_item(item)

    def chain(self, prompt_key: str) -> Iterator[Mapping[str, Any]]:
        yield from self.items.get(prompt_key, [])

    def records(self, prompt_key: str = "langfuse#support-answer") -> list[AuditRecord]:
        """Our intents, decisions and followups, oldest first (people's changes left out)."""
        return [
            AuditRecord.from_item(item) for item in self.items.get(prompt_key, []) if item["kind"] != "change"
        ]


@dataclass
class InMemoryNotifier:
    notices: list[RollbackNotice] = field(default_factory=list)

    def notify(self, notice: RollbackNotice) -> SlackOutcome:
        self.notices.append(notice)
        return SlackOutcome("sent", "memory")
