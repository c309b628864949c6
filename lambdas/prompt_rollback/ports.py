"""The ports the features talk through; adapters/ implements each one against one outside system.
Services see only these protocols and the typed values below, never a client library."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

# Annotations only: a function loads the domain modules its own path uses, not every port's
# (the canary statistics, the watcher's states, the postmortem draft).
if TYPE_CHECKING:
    from prompt_rollback.domain.audit import ChainAnchor
    from prompt_rollback.domain.audit_record import LedgerRecord, SameLedgerRecord
    from prompt_rollback.domain.canary.analysis import ArmObservations
    from prompt_rollback.domain.guard_summary import GuardSummary
    from prompt_rollback.domain.paging import ChangeEvent, Incident, PagerReport
    from prompt_rollback.domain.policy import RegistryState
    from prompt_rollback.domain.postmortem import VersionRecord
    from prompt_rollback.domain.recovery import ErrorCount
    from prompt_rollback.domain.requests import RollbackRequest
    from prompt_rollback.domain.resolutions import ResolutionSignal
    from prompt_rollback.domain.rollout_messages import RolloutTick
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


@runtime_checkable
class MoveReadsBack(Protocol):
    """A registry whose move answers with what it moved (Langfuse's label PATCH): that answer is
    the read-back, with no second request."""

    def move_and_read_back(self, ref: PromptRef, version: int) -> tuple[str, int | None]:
        """Move production to `version`; return the request id and the version the answer shows
        holding production (None when the answer does not show it on `version`)."""
        ...


@runtime_checkable
class ListsVersions(Protocol):
    """A registry that lists its versions in a call of its own and answers a move to a version
    that does not exist with NotFound, moving nothing (Langfuse): when the ledger names the
    target, production alone is read, and the list only when a decision needs it."""

    def list_versions(self, ref: PromptRef) -> frozenset[int]:
        """Every version of the prompt (none: the prompt does not exist)."""
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

    def read(self, prompt_key: str, seq: int) -> LedgerRecord | None:
        """One record by its seq, read consistently (None: no such record)."""
        ...

    def since(self, prompt_key: str, seq: int) -> list[LedgerRecord]:
        """The records of one prompt from `seq` to the head, oldest first."""
        ...

    def append(self, record: SameLedgerRecord, after: LedgerRecord | None) -> SameLedgerRecord:
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


class RollbackIndex(Protocol):
    def prompt_key_of(self, rollback_id: str) -> str | None:
        """The prompt (`provider#name`) whose ledger holds this rollback id, or None."""
        ...


class VersionRecords(Protocol):
    def read_version(self, ref: PromptRef, version: int) -> VersionRecord:
        """One version's own record in the registry (NotFound when the version is gone)."""
        ...


class ChainAnchors(Protocol):
    def anchor(self, head: ChainAnchor) -> None:
        """Write `head` once, outside the table's reach; the same head again is a no-op, a
        different one at the same seq raises AnchorConflict."""
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


class RolloutAnnouncer(Protocol):
    """The Slack app, for a rollout's one message (domain/rollout_slack.py renders it)."""

    def announce_rollout(
        self, prompt_name: str, rollout_id: str, message: Mapping[str, Any], channel: str, ts: str
    ) -> SlackOutcome:
        """Post the message, or update it in place when its `ts` is known; never raises."""
        ...

    def tell(self, channel: str, user: str, text: str) -> SlackOutcome: ...


class Pager(Protocol):
    """PagerDuty's Events API: each call reports what happened instead of raising, so paging
    never blocks or undoes a rollback."""

    def trigger(self, incident: Incident) -> PagerReport: ...

    def resolve(self, dedup_key: str) -> PagerReport: ...

    def record_change(self, event: ChangeEvent) -> PagerReport: ...


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


class VersionErrors(Protocol):
    def count(
        self, prompt_name: str, version: int, environment: str, start: datetime, end: datetime
    ) -> ErrorCount:
        """Generations of one prompt version in [start, end] and how many were at level ERROR
        (`environment` "" : all); NoData when the measurements cannot say."""


# ---- progressive delivery: the candidate's share, both arms' numbers, the next tick ----------
@dataclass(frozen=True)
class RolloutPointer:
    """What the registry says of a prompt during a rollout (domain/rollout_split.py's contract)."""

    production: int | None
    versions: frozenset[int]
    candidate: int | None  # the version holding the candidate label
    share: int  # its share in percent, 0 without a candidate


class RolloutRegistry(Protocol):
    provider: str

    def read_rollout(self, ref: PromptRef, candidate_label: str) -> RolloutPointer: ...

    def split(self, ref: PromptRef, stable: int, candidate: int, share: int, candidate_label: str) -> None:
        """Serve `candidate` to `share` % of units (idempotent: a repeat changes nothing)."""
        ...

    def unsplit(self, ref: PromptRef, stable: int, candidate_label: str) -> None:
        """The candidate gets no traffic any more (Langfuse: its label moves onto stable, 0 %)."""
        ...

    def move_production(self, ref: PromptRef, version: int) -> str: ...


@dataclass(frozen=True)
class ArmsRead:
    """Both arms over the same minutes, and how many calls reading them took."""

    canary: ArmObservations
    stable: ArmObservations
    calls: int


class ArmReader(Protocol):
    def read_arms(
        self, ref: PromptRef, candidate: int, stable: int, start: datetime, end: datetime
    ) -> ArmsRead: ...


class TickScheduler(Protocol):
    def schedule_tick(self, tick: RolloutTick, due: datetime) -> str:
        """Put `tick` on the prompt's message group at `due` (idempotent per tick); its name."""
        ...
