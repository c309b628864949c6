"""The rollback service: one request in, one audited decision out.

It glues the pure policy to the ports (registry, ledger, notifier). The order of side effects
is what makes it safe to retry at any point:

1. read the ledger head and the registry;
2. decide (pure);
3. for a rollback: append an `intent` record (the per-prompt lock), move the label, read it
   back, post to Slack, append the `decision` record;
4. for anything else: post to Slack when people need to know, append the `decision` record.

A retry that finds its own unfinished intent and the label already moved only finishes the
audit; it never moves the label twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prompt_rollback.adapters.audit_store import AuditLedger, AuditRecord, LedgerConflict
from prompt_rollback.adapters.registry import PromptRef, PromptRegistry, RegistryError
from prompt_rollback.adapters.slack import Notifier, RollbackNotice, SlackOutcome
from prompt_rollback.domain.audit import iso_utc, parse_iso_utc
from prompt_rollback.domain.interactions import Move, needs_a_person
from prompt_rollback.domain.policy import Ask, Decision, Outcome, PastDecision, decide
from prompt_rollback.domain.policy_config import PolicyConfig
from prompt_rollback.domain.requests import RollbackRequest

HISTORY_DEPTH = 100
# An intent older than this whose worker never came back (crashed, message parked in the DLQ)
# no longer blocks the prompt.
ABANDONED_INTENT_AFTER = timedelta(minutes=15)


class RollbackInProgress(Exception):
    """Another request holds this prompt's intent lock: retry the message later."""


class RollbackVerificationFailed(RegistryError):
    """The label move was accepted but production does not point where it should."""

    retryable = True


@dataclass(frozen=True)
class RollbackResult:
    rollback_id: str
    outcome: str
    reason: str
    from_version: int | None
    to_version: int | None
    slack: str
    seq: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _past_decisions(records: list[AuditRecord]) -> list[PastDecision]:
    return [
        PastDecision(
            outcome=Outcome(r["outcome"]),
            recorded_at=parse_iso_utc(r["recorded_at"]),
            from_version=r.get("from_version"),
            to_version=r.get("to_version"),
            observed_production=r.get("observed_production"),
        )
        for r in records
        # An undo says a rollback was wrong, not that the version it moved away from is bad.
        if r.get("kind") == "decision" and not str(r.get("request_id", "")).startswith("undo-")
    ]


def _automatic_moves(records_newest_first: list[AuditRecord]) -> list[Move]:
    """Rollbacks that moved production, newest first; an undo is a person's choice, not a step back."""
    return [
        Move(
            str(r["request_id"]),
            int(r["from_version"]),
            int(r["to_version"]),
            parse_iso_utc(r["recorded_at"]),
        )
        for r in records_newest_first
        if r.get("kind") == "decision"
        and r.get("outcome") == Outcome.ROLLED_BACK.value
        and r.get("from_version") is not None
        and r.get("to_version") is not None
        and not str(r.get("request_id", "")).startswith("undo-")
    ]


def _open_intent(records_newest_first: list[AuditRecord]) -> AuditRecord | None:
    """The newest intent whose request has not recorded its decision yet, if any."""
    decided: set[str] = set()
    for record in records_newest_first:
        if record.get("kind") == "decision":
            decided.add(str(record.get("request_id")))
        elif record.get("kind") == "intent" and record.get("request_id") not in decided:
            return record
    return None


class RollbackService:
    def __init__(
        self,
        registries: Callable[[str], PromptRegistry],
        ledger: AuditLedger,
        notifier: Notifier,
        policy: PolicyConfig,
        stage: str = "",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._registries = registries
        self._ledger = ledger
        self._notifier = notifier
        self._policy = policy
        self._stage = stage
        self._clock = clock or (lambda: datetime.now(UTC))

    # ---- the one public operation -------------------------------------------------------
    def handle(self, request: RollbackRequest) -> RollbackResult:
        records = self._ledger.recent(request.prompt_key, HISTORY_DEPTH)
        head = records[0] if records else None
        pending = _open_intent(records)
        if pending is not None:
            if pending["request_id"] == request.request_id:
                return self._resume(request, pending)
            if self._clock() - parse_iso_utc(pending["recorded_at"]) < ABANDONED_INTENT_AFTER:
                raise RollbackInProgress(
                    f"{request.prompt_key} is being rolled back by {pending['request_id']}"
                )
        registry, ref = self._registry_for(request)
        state = registry.read_state(ref)
        ask = Ask(
            prompt_name=request.prompt_name,
            alerted_version=request.alerted_version,
            rollback_to=request.rollback_to,
            forced=request.forced,
            dry_run=request.dry_run,
        )
        decision = decide(ask, state, _past_decisions(records), self._policy, self._clock())
        if decision.acts and not request.forced:
            oversight = self._policy.oversight_for(request.prompt_name)
            why = needs_a_person(
                request.alerted_version,
                _automatic_moves(records),
                self._clock(),
                oversight.recovery_window,
                oversight.max_rollback_steps,
            )
            if why:  # no cascade: announce and audit, move nothing
                decision = Decision(
                    Outcome.NEEDS_PERSON, why, decision.from_version, decision.to_version, decision.basis
                )
            elif oversight.mode == "approval":
                # Decided and announced; nothing moves until an approver says so (interactions.py).
                minutes = int(oversight.approval_expiry.total_seconds() // 60)
                decision = Decision(
                    Outcome.PROPOSED,
                    f"proposed: waiting for an approver (expires in {minutes} min)",
                    decision.from_version,
                    decision.to_version,
                    decision.basis,
                )
        if not decision.acts:
            slack = self._notify(request, decision) if decision.notify else SlackOutcome("not_sent", "echo")
            return self._record(request, decision, slack, head, observed=state.production_version)
        try:
            intent = self._ledger.append(
                self._fields(request, decision, "intent", state.production_version), head
            )
        except LedgerConflict as conflict:
            raise RollbackInProgress(str(conflict)) from conflict
        return self._move(request, decision, intent)

    def record_failure(self, request: RollbackRequest, error: BaseException) -> RollbackResult:
        """Audit (and announce) a request we are giving up on; it then goes to the DLQ or is dropped."""
        records = self._ledger.recent(request.prompt_key, HISTORY_DEPTH)
        head = records[0] if records else None
        pending = _open_intent(records)
        intent = pending if pending is not None and pending["request_id"] == request.request_id else None
        if intent is not None and self._label_is_at(request, intent.get("to_version")):
            # The label did move; what failed came after it (the audit write, say): say so, not "FAILED".
            decision = Decision(
                Outcome.ROLLED_BACK,
                f"rolled back, but the audit could not be completed: {_describe(error)}",
                intent.get("from_version"),
                intent.get("to_version"),
                str(intent.get("basis", "")),
            )
        else:
            decision = Decision(
                Outcome.FAILED,
                f"rollback failed: {_describe(error)}",
                intent.get("from_version") if intent else request.alerted_version,
                intent.get("to_version") if intent else None,
            )
        slack = self._notify(request, decision)
        return self._record(request, decision, slack, head, observed=None, error=_describe(error))

    def _label_is_at(self, request: RollbackRequest, version: int | None) -> bool:
        """Whether production already points at `version`; False when the registry cannot tell."""
        try:
            registry, ref = self._registry_for(request)
            return version is not None and registry.read_state(ref).production_version == version
        except Exception:  # the registry may be what is failing: then we cannot claim a move
            return False

    # ---- steps -------------------------------------------------------------------------
    def _move(self, request: RollbackRequest, decision: Decision, intent: AuditRecord) -> RollbackResult:
        assert decision.to_version is not None
        registry, ref = self._registry_for(request)
        registry_request_id = registry.move_production(ref, decision.to_version)
        after = registry.read_state(ref)
        if after.production_version != decision.to_version:
            raise RollbackVerificationFailed(
                f"production reads v{after.production_version} after moving it to v{decision.to_version}"
            )
        slack = self._notify(request, decision)
        return self._record(
            request,
            decision,
            slack,
            intent,
            observed=after.production_version,
            registry_request_id=registry_request_id,
        )

    def _resume(self, request: RollbackRequest, intent: AuditRecord) -> RollbackResult:
        """A retry of a request whose worker stopped after writing its intent."""
        decision = Decision(
            Outcome.ROLLED_BACK,
            str(intent.get("reason", "rolled back")),
            intent.get("from_version"),
            intent.get("to_version"),
            str(intent.get("basis", "")),
        )
        registry, ref = self._registry_for(request)
        state = registry.read_state(ref)
        if state.production_version == decision.to_version:
            # The label moved before the crash: finish the paperwork, do not move it again.
            resumed = Decision(
                decision.outcome,
                decision.reason + " (audit completed on retry)",
                decision.from_version,
                decision.to_version,
                decision.basis,
            )
            slack = self._notify(request, resumed)
            return self._record(request, resumed, slack, intent, observed=state.production_version)
        if state.production_version == decision.from_version:
            return self._move(request, decision, intent)
        moved = Decision(
            Outcome.SKIPPED,
            f"already moved: production became v{state.production_version} while this rollback was pending",
            decision.from_version,
            notify=True,
        )
        slack = self._notify(request, moved)
        return self._record(request, moved, slack, intent, observed=state.production_version)

    def _registry_for(self, request: RollbackRequest) -> tuple[PromptRegistry, PromptRef]:
        return self._registries(request.provider), PromptRef(
            request.prompt_name, dict(request.provider_target)
        )

    def _notify(self, request: RollbackRequest, decision: Decision) -> SlackOutcome:
        trigger = request.trigger
        notice = RollbackNotice(
            rollback_id=request.request_id,
            outcome=decision.outcome.value,
            prompt_name=request.prompt_name,
            provider=request.provider,
            from_version=decision.from_version,
            to_version=decision.to_version,
            reason=decision.reason if not request.reason else f"{decision.reason}; {request.reason}",
            basis=decision.basis,
            actor=request.actor,
            mode=request.mode,
            when=self._clock(),
            stage=self._stage,
            environment=request.environment,
            alertname=trigger.alertname if trigger else "",
            summary=trigger.summary if trigger else "",
            generator_url=trigger.generator_url if trigger else "",
            runbook_url=trigger.runbook_url if trigger else "",
            target=", ".join(f"{key}={value}" for key, value in sorted(request.provider_target.items())),
            channel=request.slack_channel,
            message_ts=request.slack_ts,
        )
        try:
            return self._notifier.notify(notice)
        except Exception as error:  # a notifier must never take a rollback down with it
            return SlackOutcome("failed", type(error).__name__)

    def _fields(
        self,
        request: RollbackRequest,
        decision: Decision,
        kind: str,
        observed: int | None,
    ) -> AuditRecord:
        trigger = request.trigger
        return {
            "prompt_key": request.prompt_key,
            "prompt_name": request.prompt_name,
            "provider": request.provider,
            "kind": kind,
            "outcome": decision.outcome.value,
            "request_id": request.request_id,
            "from_version": decision.from_version,
            "to_version": decision.to_version,
            "observed_production": observed,
            "reason": decision.reason,
            "basis": decision.basis,
            "actor": request.actor,
            "mode": request.mode,
            "request_reason": request.reason,
            "environment": request.environment,
            "stage": self._stage,
            "received_at": iso_utc(request.received_at),
            "recorded_at": iso_utc(self._clock()),
            "trigger": trigger.model_dump(mode="json") if trigger else None,
            "provider_target": dict(request.provider_target),
        }

    def _record(
        self,
        request: RollbackRequest,
        decision: Decision,
        slack: SlackOutcome,
        after: AuditRecord | None,
        observed: int | None,
        registry_request_id: str = "",
        error: str = "",
    ) -> RollbackResult:
        fields = self._fields(request, decision, "decision", observed)
        fields["slack"] = {"status": slack.status, "detail": slack.detail}
        channel, ts = slack.channel or request.slack_channel, slack.ts or request.slack_ts
        if ts:  # app mode: where the incident's message is, so a click or a follow-up updates it
            fields["slack"].update(channel=channel, ts=ts)
        fields["registry_request_id"] = registry_request_id
        fields["error"] = error
        record = self._append_at_end(fields, after)
        return RollbackResult(
            rollback_id=request.request_id,
            outcome=decision.outcome.value,
            reason=decision.reason,
            from_version=decision.from_version,
            to_version=decision.to_version,
            slack=slack.status,
            seq=int(record["seq"]),
        )

    def _append_at_end(self, fields: AuditRecord, after: AuditRecord | None) -> AuditRecord:
        """A decision is recorded whatever else was appended meanwhile: it follows the newest record."""
        for _ in range(5):
            try:
                return self._ledger.append(fields, after)
            except LedgerConflict:
                newest = self._ledger.recent(str(fields["prompt_key"]), 1)
                after = newest[0] if newest else None
        raise RollbackInProgress(f"{fields['prompt_key']}: ledger kept changing while recording a decision")


def _describe(error: BaseException) -> str:
    """An error as safe to show: our own messages carry no secrets, foreign ones only their type."""
    if isinstance(error, RegistryError | RollbackInProgress):
        return str(error)
    return type(error).__name__
