"""The change recorder: one external event in, at most one `change` record in the prompt's chain.
Read the head's summary of the whole chain, let the domain decide, append conditionally; a lost
race re-reads and decides again, which is what makes order and duplicates irrelevant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from prompt_rollback.domain.changes import (
    UNKNOWN,
    Ignored,
    LedgerView,
    ProductionChange,
    ProductionNow,
    langfuse_change,
    observed_change,
    summary_view,
)
from prompt_rollback.domain.cloudtrail_changes import (
    CloudTrailRecord,
    ParameterValueAt,
    cloudtrail_change,
    new_version,
    pointer_of,
)
from prompt_rollback.domain.langfuse_events import PromptVersionEvent
from prompt_rollback.errors import LedgerConflict
from prompt_rollback.ports import APPEND_ATTEMPTS, AuditLedger

# Where production is now, by prompt name: the Langfuse registry in the Lambda; None when nothing holds it.
ProductionReader = Callable[[str], int | None]


def production_now(reader: ProductionReader | None, prompt_name: str) -> ProductionNow:
    """Where production is now, or UNKNOWN without a reader or while the registry is down: the
    ledger alone decides then (a lost event is recorded by the gainer's, the worker re-checks)."""
    if reader is None:
        return UNKNOWN
    try:
        return reader(prompt_name)
    except Exception:
        return UNKNOWN


class LedgerBusy(Exception):
    """The prompt's chain kept changing under us: answer 5xx so the sender retries."""


@dataclass(frozen=True)
class Recorded:
    """What became of one event: the change's seq, or why nothing was recorded."""

    status: str  # "recorded" | "ignored"
    detail: str
    seq: int | None = None
    change: ProductionChange | None = None


class ChangeRecorder:
    def __init__(
        self,
        ledger: AuditLedger,
        production_reader: ProductionReader | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._ledger = ledger
        self._production_reader = production_reader
        self._clock = clock or (lambda: datetime.now(UTC))

    def record_langfuse(self, event: PromptVersionEvent) -> Recorded:
        prompt_key = f"langfuse#{event.prompt.name}"

        received_at = self._clock()

        def decide(view: LedgerView) -> ProductionChange | Ignored:
            first = langfuse_change(event, view, received_at=received_at)
            if isinstance(first, Ignored) and first.reason.startswith("production left"):
                # Only a loser's event gets here: ask where production went, so a label removed
                # without a new holder is on the record too.
                now = production_now(self._production_reader, event.prompt.name)
                return langfuse_change(event, view, now, received_at=received_at)
            return first

        return self.record(prompt_key, decide)

    def record_cloudtrail(
        self,
        record: CloudTrailRecord,
        own_role_arns: frozenset[str],
        value_at: ParameterValueAt | None = None,
    ) -> Recorded:
        pointer = pointer_of(record)
        if pointer is None:
            return Recorded("ignored", f"{record.event_name} names no production pointer")
        to_version = new_version(record, value_at)
        return self.record(
            f"bedrock#{pointer[0]}", lambda view: cloudtrail_change(record, view, own_role_arns, to_version)
        )

    def observe(self, provider: str, prompt_name: str, version: int | None, actor: str) -> Recorded:
        """Production as the registry shows it, on record unless the ledger already says so."""
        now = self._clock()
        return self.record(
            f"{provider}#{prompt_name}",
            lambda view: observed_change(view, provider, prompt_name, version, actor, now),
        )

    def record(self, prompt_key: str, decide: Callable[[LedgerView], ProductionChange | Ignored]) -> Recorded:
        """Read, decide, append; on a concurrent append, read and decide again."""
        for _ in range(APPEND_ATTEMPTS):
            head = self._ledger.head(prompt_key)
            outcome = decide(summary_view(head.guards))
            if isinstance(outcome, Ignored):
                return Recorded("ignored", outcome.reason)
            try:
                sealed = self._ledger.append(outcome.stamped(self._clock()), head.record)
            except LedgerConflict:
                continue
            return Recorded("recorded", _describe(sealed), sealed.seq, sealed)
        raise LedgerBusy(f"{prompt_key}: ledger kept changing while recording a change")


def _describe(change: ProductionChange) -> str:
    def v(version: int | None) -> str:
        return f"v{version}" if version is not None else "?"

    if change.change == "version_deleted":
        return f"{change.prompt_name} v{change.version} deleted by {change.actor}"
    if change.change == "left":
        moved = f"v{change.version} -> {v(change.to_version)}"
        return f"{change.prompt_name} production {moved} by {change.actor} (the losing version's event)"
    if change.change == "observed":
        return f"{change.prompt_name} production {v(change.to_version)} observed by {change.actor}"
    moved = f"{v(change.from_version)} -> {v(change.to_version)}"
    return f"{change.prompt_name} production {moved} by {change.actor}"
