"""The ports the features talk through; adapters/ implements each one against one outside system.
Services see only these protocols and the typed values below, never a client library."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, overload

from prompt_rollback.domain.audit_record import AuditRecord, LedgerRecord
from prompt_rollback.domain.changes import ProductionChange
from prompt_rollback.domain.guard_summary import GuardSummary
from prompt_rollback.domain.interactions import ResolutionSignal
from prompt_rollback.domain.policy import RegistryState
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.domain.watch import Observation, Signal, WatchState


@dataclass(frozen=True)
class PromptRef:
    """Which production pointer: the prompt's name plus provider-specific coordinates
    (for Bedrock: agent + alias, flow + alias, or the SSM parameter holding a prompt-version ARN)."""

    name: str
    target: Mapping[str, str] = field(default_factory=dict)


class PromptRegistry(Protocol):
    provider: str

    def read_state(self, ref: PromptRef) -> RegistryState:
        """Which version holds production now, and which versions exist."""
        ...

    def read_production(self, ref: PromptRef) -> int | None:
        """Only which version holds production now: the read-back after a move, in as few calls
        as the registry allows."""
        ...

    def move_production(self, ref: PromptRef, version: int) -> str:
        """Point production at `version`; return the registry's request id (or "" if it has none)."""
        ...


# How often a writer re-reads the head and appends again when others keep appending first.
APPEND_ATTEMPTS = 5


@dataclass(frozen=True)
class LedgerHead:
    """A prompt's newest record (None: an empty chain) and what the guards need of its whole chain."""

    record: LedgerRecord | None
    guards: GuardSummary


class AuditLedger(Protocol):
    def recent(self, prompt_key: str, limit: int) -> list[LedgerRecord]:
        """The newest records of one prompt, newest first."""
        ...

    def head(self, prompt_key: str) -> LedgerHead:
        """The head of one prompt's chain with its guard summary, in one read."""
        ...

    def of_request(self, prompt_key: str, request_id: str) -> list[LedgerRecord]:
        """Every record of one request id (its intent, decisions, or a followup), newest first."""
        ...

    @overload
    def append(self, record: AuditRecord, after: LedgerRecord | None) -> AuditRecord: ...

    @overload
    def append(self, record: ProductionChange, after: LedgerRecord | None) -> ProductionChange: ...

    def append(self, record: LedgerRecord, after: LedgerRecord | None) -> LedgerRecord:
        """Append `record` right after `after` (the head the caller decided on) and return it
        sealed (seq, prev_hash, hash); `LedgerConflict` if someone else appended first."""
        ...

    def between(self, prompt_name: str, start: datetime, end: datetime) -> Iterator[LedgerRecord]:
        """Every record about `prompt_name` (any provider) with start <= recorded_at < end."""
        ...

    def chain(self, prompt_key: str) -> Iterator[Mapping[str, Any]]:
        """Every stored item of one prompt, oldest first, exactly as stored: the hash chain is
        verified over these, including fields this version of the code does not know."""
        ...


@dataclass(frozen=True)
class SlackOutcome:
    status: str  # sent | updated | failed | printed | not_configured | not_sent
    detail: str = ""
    channel: str = ""  # app mode: where the incident's message is …
    ts: str = ""  # … and its id there, recorded so a retry or a click updates it in place


@dataclass(frozen=True)
class RollbackNotice:
    rollback_id: str
    outcome: str
    prompt_name: str
    provider: str
    from_version: int | None
    to_version: int | None
    reason: str
    basis: str
    actor: str
    mode: str
    when: datetime
    stage: str = ""
    environment: str = ""
    alertname: str = ""
    summary: str = ""
    generator_url: str = ""
    runbook_url: str = ""
    target: str = ""  # the provider's pointer when a name is not enough (a Bedrock alias, an SSM parameter)
    channel: str = ""  # app mode: the incident's channel, once it has a message …
    message_ts: str = ""  # … and that message's ts: update it instead of posting another


class Notifier(Protocol):
    def notify(self, notice: RollbackNotice) -> SlackOutcome:
        """Tell people; report what happened instead of raising."""
        ...


class AppNotifier(Notifier, Protocol):
    """The Slack app: a notifier that also answers in threads, tells one person, and knows groups."""

    def reply(self, channel: str, thread_ts: str, text: str) -> SlackOutcome: ...

    def tell(self, channel: str, user: str, text: str) -> SlackOutcome: ...

    def members_of(self, user_group: str) -> frozenset[str]: ...


class RollbackQueue(Protocol):
    def enqueue(self, requests: Sequence[RollbackRequest]) -> None:
        """Queue every request or raise `EnqueueFailed`."""
        ...

    def enqueue_resolutions(self, signals: Sequence[ResolutionSignal]) -> None:
        """Queue resolved alerts (recovery signals), each on its prompt's group, or raise `EnqueueFailed`."""
        ...


# ---- the watcher: its stored `for:` states, what it observes and how it signals -------------
class NoData(Exception):
    """Langfuse did not answer usefully (down, 429, 5xx, rejected query): this run decides nothing."""


@dataclass(frozen=True)
class Observed:
    observations: list[Observation]
    langfuse_calls: int


class Observer(Protocol):
    def observe(self, now: datetime) -> Observed:
        """Every trigger of every production prompt version at `now`, or NoData."""
        ...


class StateConflict(Exception):
    """Another run changed this state first (overlapping runs): this run leaves the key alone."""


class WatchStateStore(Protocol):
    def load_all(self) -> list[WatchState]: ...

    def save(self, state: WatchState, expected_revision: int) -> WatchState:
        """Write `state` if the stored revision is still `expected_revision` (0: absent); the
        returned state carries the new revision. Raises StateConflict otherwise."""
        ...

    def delete(self, state: WatchState) -> None:
        """Delete `state` if it is still at its revision. Raises StateConflict otherwise."""
        ...


class SignalSender(Protocol):
    def send(self, signals: Sequence[Signal]) -> None:
        """Deliver every signal or raise: an unsent signal stays in its state's outbox."""
        ...
