"""The worker's side of people in the loop: clicks (Approve, Reject, Undo), resolutions and the
scheduled checks, each read again from our ledger and the registry. A click that moves production
is a forced RollbackRequest with a deterministic id; one that changes nothing is a followup record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prompt_rollback.domain.audit import iso_utc, parse_iso_utc
from prompt_rollback.domain.audit_record import AuditRecord, ours
from prompt_rollback.domain.interactions import (
    CliAction,
    Click,
    FollowupOutcome,
    Move,
    Proposal,
    RecoveryCheck,
    SlackAction,
    Verdict,
    derived_request_id,
    judge_approval,
    judge_rejection,
    judge_undo,
    may_click,
    proposal_expired,
    recovery_overdue,
    recovery_time,
)
from prompt_rollback.domain.mrkdwn import escape_text
from prompt_rollback.domain.paging import PagedPrompt, PagerReport, incident
from prompt_rollback.domain.policy import Outcome
from prompt_rollback.domain.policy_config import Oversight, PolicyConfig
from prompt_rollback.domain.provenance import Provenance
from prompt_rollback.domain.recovery import (
    VERSION_SCOPED_RESOLUTION,
    ErrorCount,
    RecoveryVerdict,
    judge_recovery,
    version_scoped,
)
from prompt_rollback.domain.requests import Provider, RollbackRequest, Trigger
from prompt_rollback.domain.resolutions import ResolutionSignal, ResolvedAlert
from prompt_rollback.errors import LedgerConflict, RollbackInProgress
from prompt_rollback.ports import (
    APPEND_ATTEMPTS,
    AppNotifier,
    AuditLedger,
    NoData,
    Pager,
    PromptRef,
    PromptRegistry,
    RollbackNotice,
    SlackOutcome,
    VersionErrors,
)

Action = SlackAction | CliAction


def _shown(action: Action) -> str:
    return action.mention if action.slack_user else escape_text(action.mention, 200)


# Runs a RollbackRequest as the worker runs a queued one (rollback/attempts.py); returns its result.
RunRollback = Callable[[RollbackRequest], dict[str, Any]]


@dataclass(frozen=True)
class InteractionResult:
    outcome: str  # what the click or signal did: approved, undone, rejected, refused, expired, …
    reason: str
    rollback_id: str
    moved: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def recovered_reply(reason: str, rollback_id: str) -> str:
    """The thread's last word on a recovered rollback, naming the command that drafts its postmortem
    (a validated rollback id: safe in mrkdwn)."""
    return f"Recovered: {reason}.\nPostmortem draft: `prompt-rollback postmortem {rollback_id}`"


def _decision_of(records: list[AuditRecord], request_id: str) -> AuditRecord | None:
    return next((r for r in records if r.is_decision and r.request_id == request_id), None)


def _followups(records: list[AuditRecord], rollback_id: str) -> list[AuditRecord]:
    return [r for r in records if r.kind == "followup" and r.rollback_id == rollback_id]


# The ids under which what happened to a rollback is recorded, so each is found by key.
def _rejected_id(rollback_id: str) -> str:
    return derived_request_id(Click.REJECT, rollback_id)


def _expired_id(rollback_id: str) -> str:
    return f"expired-{rollback_id}"


def _recovered_id(rollback_id: str) -> str:
    return f"recovered-{rollback_id}"


def _overdue_id(rollback_id: str) -> str:
    return f"overdue-{rollback_id}"


def _settled(records: list[AuditRecord], proposal_id: str) -> str:
    """How a proposal ended ("approved", "rejected", "expired"), or "" while it is open; `records`
    are those of its approval, rejection and expiry ids."""
    approved = _decision_of(records, derived_request_id(Click.APPROVE, proposal_id))
    if approved is not None and approved.outcome is Outcome.ROLLED_BACK:
        return "approved"
    for record in _followups(records, proposal_id):
        if record.outcome in (FollowupOutcome.REJECTED, FollowupOutcome.EXPIRED):
            return record.outcome.value
    return ""


def _settling_ids(proposal_id: str) -> tuple[str, ...]:
    return (
        derived_request_id(Click.APPROVE, proposal_id),
        _rejected_id(proposal_id),
        _expired_id(proposal_id),
    )


def _slack_of(record: AuditRecord) -> tuple[str, str]:
    return (record.slack.channel, record.slack.ts) if record.slack else ("", "")


def _provider(name: str) -> Provider:
    """The provider of a record we wrote ourselves: always one RollbackRequest accepts."""
    if name == "bedrock":
        return "bedrock"
    if name == "langfuse":
        return "langfuse"
    raise ValueError(f"unknown provider {name!r} in the ledger")


def _version(version: int | None) -> int:
    if version is None:
        raise ValueError("a proposal names the versions it moves between")
    return version


def _move_of(record: AuditRecord) -> Move | None:
    if record.outcome is not Outcome.ROLLED_BACK or record.from_version is None or record.to_version is None:
        return None
    return Move(record.request_id, record.from_version, record.to_version, parse_iso_utc(record.recorded_at))


class InteractionService:
    """Two clicks on one button are one move: the move runs through the rollback service under a
    derived request id (`approve-<id>`, `undo-<id>`), so it takes the same intent lock, the same
    compare-and-swap and the same settled-decision check as any other rollback. Slack is told in
    place: the message is updated, the clicker told privately, follow-ups go in the thread."""

    def __init__(
        self,
        registries: Callable[[str], PromptRegistry],
        ledger: AuditLedger,
        notifier: AppNotifier,
        policy: PolicyConfig,
        run_rollback: RunRollback,
        stage: str = "",
        clock: Callable[[], datetime] | None = None,
        version_errors: Callable[[], VersionErrors] | None = None,
        pager: Pager | None = None,
    ) -> None:
        self._registries = registries
        self._ledger = ledger
        self._notifier = notifier
        self._policy = policy
        self._run_rollback = run_rollback
        self._stage = stage
        self._clock = clock or (lambda: datetime.now(UTC))
        self._version_errors = version_errors  # built on first use: only version-scoped checks ask
        self._pager = pager

    # ---- clicks ----------------------------------------------------------------------------
    def handle_action(self, action: Action, provenance: Provenance) -> InteractionResult:
        target = _decision_of(self._records(action.prompt_key, action.rollback_id), action.rollback_id)
        if not provenance.verified:
            return self._unverified(action, target, provenance)
        if target is None:
            # The index said this prompt; its ledger does not know the id: nothing to act on.
            self._tell(action, "This rollback is not in the audit ledger.")
            return InteractionResult("unknown", "rollback id not in this prompt's ledger", action.rollback_id)
        oversight = self._policy.oversight_for(target.prompt_name)
        members = {group: self._notifier.members_of(group) for group in oversight.approver_groups}
        if not may_click(action.approver_id, oversight, members):
            reason = f"{action.approver_id} is not an approver of {target.prompt_name}"
            self._followup(target, action, provenance, "refused", reason)
            self._tell(
                action,
                f"Not allowed: you are not an approver of {escape_text(target.prompt_name, 200)}. "
                "Nothing changed.",
            )
            return InteractionResult("refused", reason, action.rollback_id)
        if action.click is Click.UNDO:
            return self._undo(action, provenance, target)
        return self._settle_proposal(action, provenance, target)

    def _unverified(
        self, action: Action, target: AuditRecord | None, provenance: Provenance
    ) -> InteractionResult:
        """A click nobody vouches for (not queued by the Slack actions function): audited where its
        rollback is known, never acted on, and its named clicker is not messaged."""
        reason = (
            f"not acted on: the click was not sent by the Slack actions function "
            f"(sender {provenance.caller or 'unknown'})"
        )
        if target is not None:
            self._followup(target, action, provenance, "refused", reason)
        return InteractionResult("unverified", reason, action.rollback_id)

    def _undo(self, action: Action, provenance: Provenance, target: AuditRecord) -> InteractionResult:
        move = _move_of(target)
        if move is None:
            return self._no_change(
                action, provenance, target, "nothing_to_undo", "this rollback did not move production"
            )
        production = self._production(target)
        verdict = judge_undo(move, production)
        if not verdict.moves:
            return self._no_change(action, provenance, target, verdict.outcome, verdict.reason)
        undo_id = derived_request_id(Click.UNDO, action.rollback_id)
        # Undone before, and a person put production back where this rollback left it since: an
        # Undo undoes a rollback once, and a person's later move is not overridden by an old button.
        undone = _decision_of(self._records(target.prompt_key, undo_id), undo_id)
        if undone is not None and undone.outcome is Outcome.ROLLED_BACK:
            reason = self._undone_before(undone, production)
            return self._no_change(action, provenance, target, "already_undone", reason)
        result = self._move(
            action, provenance, target, verdict, f"undo of {move.rollback_id}, asked {action.where}"
        )
        if result["outcome"] != Outcome.ROLLED_BACK.value:
            return self._no_change(action, provenance, target, "not_undone", str(result["reason"]))
        # The undo's own basis ("moves forward", or not): the message shows this move, not the last.
        undone = _decision_of(self._records(target.prompt_key, undo_id), undo_id)
        self._resolve_incident(target.request_id)  # a person acted (an overdue recovery paged them)
        self._update(
            target,
            "undone",
            undo_id,
            verdict,
            f"undone {action.where} by {action.actor}",
            action.actor,
            basis=undone.basis if undone else "",
        )
        self._reply(
            target,
            f"Undone by {_shown(action)}: production v{verdict.from_version} → v{verdict.to_version}.",
        )
        return InteractionResult("undone", "undone", action.rollback_id, moved=not result.get("replayed"))

    def _undone_before(self, undone: AuditRecord, production: int | None) -> str:
        who = self._ledger.head(undone.prompt_key).guards.who_moved(production)
        return (
            f"this rollback was already undone by {undone.actor} at {undone.recorded_at[:16]}Z; "
            f"production is v{production} now, put there by {who}"
        )

    def _settle_proposal(
        self, action: Action, provenance: Provenance, target: AuditRecord
    ) -> InteractionResult:
        if target.outcome is not Outcome.PROPOSED:
            return self._no_change(
                action, provenance, target, "not_a_proposal", "there is no proposal to approve or reject"
            )
        oversight = self._policy.oversight_for(target.prompt_name)
        proposal = Proposal(
            action.rollback_id,
            _version(target.from_version),
            _version(target.to_version),
            parse_iso_utc(target.recorded_at),
        )
        records = self._records(target.prompt_key, *_settling_ids(proposal.rollback_id))
        settled, now = _settled(records, proposal.rollback_id), self._clock()
        if action.click is Click.REJECT:
            verdict = judge_rejection(proposal, settled, now, oversight.approval_expiry)
        else:
            verdict = judge_approval(
                proposal, settled, self._production(target), now, oversight.approval_expiry
            )
        if verdict.outcome in ("rejected", "expired"):
            paged = self._resolve_incident(action.rollback_id) if verdict.outcome == "rejected" else None
            settled_id = _rejected_id if verdict.outcome == "rejected" else _expired_id
            self._followup(
                target,
                action,
                provenance,
                verdict.outcome,
                verdict.reason,
                paged,
                settled_id(action.rollback_id),
            )
            self._update(target, verdict.outcome, action.rollback_id, None, verdict.reason, action.actor)
            self._reply(target, f"{escape_text(verdict.reason.capitalize(), 1000)} ({_shown(action)}).")
            return InteractionResult(verdict.outcome, verdict.reason, action.rollback_id)
        if not verdict.moves:
            return self._no_change(action, provenance, target, verdict.outcome, verdict.reason)
        result = self._move(action, provenance, target, verdict, f"approved {action.where} by {action.actor}")
        if result["outcome"] != Outcome.ROLLED_BACK.value:
            return self._no_change(action, provenance, target, "not_approved", str(result["reason"]))
        self._resolve_incident(action.rollback_id)  # the proposal's page: a person approved it
        self._reply(
            target,
            f"Approved by {_shown(action)}: production v{verdict.from_version} → v{verdict.to_version}.",
        )
        return InteractionResult("approved", "approved", action.rollback_id, moved=not result.get("replayed"))

    def _no_change(
        self, action: Action, provenance: Provenance, target: AuditRecord, outcome: str, reason: str
    ) -> InteractionResult:
        self._followup(target, action, provenance, outcome, reason)
        self._tell(action, f"Nothing changed: {escape_text(reason, 1000)}.")
        return InteractionResult(outcome, reason, action.rollback_id)

    def _move(
        self, action: Action, provenance: Provenance, target: AuditRecord, verdict: Verdict, reason: str
    ) -> dict[str, Any]:
        channel, ts = _slack_of(target)
        trigger = target.trigger
        request = RollbackRequest(
            request_id=derived_request_id(action.click, action.rollback_id),
            provider=_provider(target.provider),
            prompt_name=target.prompt_name,
            alerted_version=verdict.from_version,  # the compare of compare-and-swap
            rollback_to=verdict.to_version,
            environment=target.environment,
            actor=action.actor,
            reason=reason,
            forced=True,  # a person decided: audited as forced, with them as the actor
            # An Undo goes back to where production was, which is a newer version than the one
            # the rollback left: a rollback never moves forward unless asked to, and this asks.
            allow_forward=action.click is Click.UNDO,
            dry_run=False,
            trigger=Trigger.model_validate(trigger) if trigger else None,
            received_at=action.clicked_at,
            provider_target=dict(target.provider_target),
            slack_channel=channel,
            slack_ts=ts,
            provenance=provenance,
        )
        return self._run_rollback(request)

    # ---- resolutions and the scheduled checks ----------------------------------------------
    def handle_resolution(self, signal: ResolutionSignal) -> list[InteractionResult]:
        """Alertmanager says alerts of this prompt resolved: the rollbacks they caused recovered."""
        results: list[InteractionResult] = []
        for alert in signal.alerts:
            if any(r.outcome == "recovered" and r.rollback_id == alert.rollback_id for r in results):
                # Just recorded: the request-id index may not show it yet.
                results.append(InteractionResult("ignored", "recovery already recorded", alert.rollback_id))
            else:
                results.append(self._resolve(signal.prompt_key, alert))
        return results

    def _resolve(self, prompt_key: str, alert: ResolvedAlert) -> InteractionResult:
        approve_id = derived_request_id(Click.APPROVE, alert.rollback_id)
        records = self._records(prompt_key, alert.rollback_id, approve_id)
        target = _decision_of(records, alert.rollback_id)
        if target is not None and target.outcome is Outcome.PROPOSED:
            # Approved later: the move is the approval's; the message and thread are the same.
            target = _decision_of(records, approve_id) or target
        move = _move_of(target) if target else None
        if target is None or move is None:
            if target is not None and target.pagerduty is not None and target.pagerduty.dedup_key:
                self._resolve_incident(target.pagerduty.dedup_key)  # recovered without a move
            return InteractionResult("ignored", "the resolved alert caused no rollback", alert.rollback_id)
        recorded = self._records(prompt_key, _recovered_id(move.rollback_id))
        if any(r.outcome is FollowupOutcome.RECOVERED for r in _followups(recorded, move.rollback_id)):
            return InteractionResult("ignored", "recovery already recorded", alert.rollback_id)
        if version_scoped(target.trigger):
            return InteractionResult("ignored", VERSION_SCOPED_RESOLUTION, alert.rollback_id)
        took = recovery_time(move, alert.resolved_at)
        minutes = took.total_seconds() / 60
        name = escape_text(alert.alertname, 200) or "the alert"
        reason = f"{name} resolved {minutes:.1f} min after the rollback"
        self._record(
            target,
            "recovered",
            reason,
            actor=alert.source,
            request_id=_recovered_id(move.rollback_id),
            recovery_seconds=int(took.total_seconds()),
            resolved_at=iso_utc(alert.resolved_at),
            pagerduty=self._resolve_incident(move.rollback_id),
        )
        self._update(target, "recovered", move.rollback_id, None, reason, alert.source)
        self._reply(target, recovered_reply(reason, alert.rollback_id))
        return InteractionResult("recovered", reason, alert.rollback_id)

    def handle_check(self, check: RecoveryCheck) -> InteractionResult:
        """The scheduled check at the end of a window: overdue recovery, or an expired proposal."""
        rollback_id = check.rollback_id
        target = _decision_of(self._records(check.prompt_key, rollback_id), rollback_id)
        if target is None:
            return InteractionResult("ignored", "rollback id not in this prompt's ledger", rollback_id)
        oversight = self._policy.oversight_for(target.prompt_name)
        records = self._records(
            check.prompt_key,
            *_settling_ids(rollback_id),
            _recovered_id(rollback_id),
            _overdue_id(rollback_id),
        )
        now, outcomes = self._clock(), {r.outcome for r in _followups(records, rollback_id)}
        if target.outcome is Outcome.PROPOSED:
            proposal = Proposal(
                check.rollback_id,
                _version(target.from_version),
                _version(target.to_version),
                parse_iso_utc(target.recorded_at),
            )
            if not proposal_expired(
                proposal, _settled(records, check.rollback_id), now, oversight.approval_expiry
            ):
                return InteractionResult(
                    "ignored", "the proposal is settled or still open", check.rollback_id
                )
            reason = "the proposal expired without an approval"
            self._record(
                target, "expired", reason, actor="recovery-check", request_id=_expired_id(check.rollback_id)
            )
            self._update(target, "expired", check.rollback_id, None, reason, "recovery-check")
            return InteractionResult("expired", reason, check.rollback_id)
        move = _move_of(target)
        if move is None or "recovery_overdue" in outcomes:
            return InteractionResult("ignored", "nothing to check", check.rollback_id)
        if not recovery_overdue(move, "recovered" in outcomes, now, oversight.recovery_window):
            return InteractionResult("ignored", "recovered, or the window is not over yet", check.rollback_id)
        if version_scoped(target.trigger):
            verdict = self._judge_production(target, oversight, now)
            if verdict.recovered:
                return self._recovered_by_check(target, move.rollback_id, verdict.reason, now)
            reason = verdict.reason
        else:
            minutes = int(oversight.recovery_window.total_seconds() // 60)
            reason = f"no resolution within {minutes} min of the rollback"
        self._record(
            target,
            "recovery_overdue",
            reason,
            actor="recovery-check",
            request_id=_overdue_id(check.rollback_id),
            pagerduty=self._page(target, move.rollback_id, "recovery overdue", reason),
        )
        self._update(target, "recovery_overdue", move.rollback_id, None, reason, "recovery-check")
        self._reply(target, f"Not recovered: {reason}. Someone should look.")
        return InteractionResult("recovery_overdue", reason, check.rollback_id)

    def _judge_production(self, target: AuditRecord, oversight: Oversight, now: datetime) -> RecoveryVerdict:
        """The rollback plan's rule on the version holding production now, over the rule's window."""
        rule = oversight.recovery_rule
        if self._version_errors is None:
            return RecoveryVerdict(False, "recovery cannot be judged: no measurements of production here")
        production = self._production(target)
        if production is None:
            return judge_recovery(production, ErrorCount(0, 0), rule)
        try:
            counted = self._version_errors().count(
                target.prompt_name, production, target.environment, now - rule.window, now
            )
        except NoData as error:  # Langfuse's words in it: escaped, as every text Slack shows
            return RecoveryVerdict(False, f"recovery could not be judged: {escape_text(str(error), 300)}")
        return judge_recovery(production, counted, rule)

    def _recovered_by_check(
        self, target: AuditRecord, rollback_id: str, reason: str, now: datetime
    ) -> InteractionResult:
        self._record(
            target,
            "recovered",
            reason,
            actor="recovery-check",
            request_id=_recovered_id(rollback_id),
            resolved_at=iso_utc(now),
        )
        self._update(target, "recovered", rollback_id, None, reason, "recovery-check")
        self._reply(target, recovered_reply(reason, rollback_id))
        return InteractionResult("recovered", reason, rollback_id)

    # ---- PagerDuty: the rollback id is the incident's dedup key -----------------------------
    def _page(self, target: AuditRecord, rollback_id: str, what: str, reason: str) -> PagerReport | None:
        if self._pager is None:
            return None
        prompt = PagedPrompt(
            target.prompt_name, target.provider, target.from_version, target.to_version, self._stage
        )
        return self._pager.trigger(incident(rollback_id, prompt, what, reason))

    def _resolve_incident(self, rollback_id: str) -> PagerReport | None:
        return self._pager.resolve(rollback_id) if self._pager is not None else None

    # ---- ledger and Slack ------------------------------------------------------------------
    def _records(self, prompt_key: str, *request_ids: str) -> list[AuditRecord]:
        """Our records of these request ids, by key (never the newest N: a flood of clicks cannot
        push a rollback out of sight)."""
        return [
            r for request_id in request_ids for r in ours(self._ledger.of_request(prompt_key, request_id))
        ]

    def _tell(self, action: Action, text: str) -> None:
        """Only the person who clicked sees it; the CLI prints the result instead."""
        if action.slack_user:
            self._notifier.tell(action.channel_id, action.slack_user, text)

    def _production(self, target: AuditRecord) -> int | None:
        registry = self._registries(target.provider)
        ref = PromptRef(target.prompt_name, dict(target.provider_target))
        return registry.read_state(ref).production_version

    def _followup(
        self,
        target: AuditRecord,
        action: Action,
        provenance: Provenance,
        outcome: str,
        reason: str,
        paged: PagerReport | None = None,
        request_id: str = "",
    ) -> None:
        self._record(
            target,
            outcome,
            reason,
            actor=action.actor,
            request_id=request_id or action.action_id,
            click=action.click.value,
            pagerduty=paged,
            provenance=provenance,
        )

    def _record(
        self,
        target: AuditRecord,
        outcome: str,
        reason: str,
        *,
        actor: str,
        request_id: str,
        click: str = "",
        recovery_seconds: int | None = None,
        resolved_at: str = "",
        pagerduty: PagerReport | None = None,
        provenance: Provenance | None = None,
    ) -> AuditRecord:
        now = iso_utc(self._clock())
        record = AuditRecord(
            prompt_key=target.prompt_key,
            prompt_name=target.prompt_name,
            provider=target.provider,
            kind="followup",
            outcome=FollowupOutcome(outcome),
            request_id=request_id,
            from_version=target.from_version,
            to_version=target.to_version,
            observed_production=None,
            reason=reason,
            basis="",
            actor=actor,
            mode="manual" if actor.startswith(("slack:", "cli:")) else "automatic",
            request_reason="",
            environment=target.environment,
            stage=self._stage,
            received_at=now,
            recorded_at=now,
            rollback_id=target.request_id,  # the link to the rollback it is about
            click=click,
            recovery_seconds=recovery_seconds,
            resolved_at=resolved_at,
            pagerduty=pagerduty,
            provenance=provenance,
        ).bounded()
        for _ in range(APPEND_ATTEMPTS):
            newest = self._ledger.recent(target.prompt_key, 1)
            try:
                return self._ledger.append(record, newest[0] if newest else None)
            except LedgerConflict:
                continue
        raise RollbackInProgress(f"{target.prompt_key}: ledger kept changing while recording a {outcome}")

    def _update(
        self,
        target: AuditRecord,
        outcome: str,
        rollback_id: str,
        verdict: Verdict | None,
        reason: str,
        actor: str,
        basis: str | None = None,
    ) -> SlackOutcome:
        channel, ts = _slack_of(target)
        if not ts:
            return SlackOutcome("not_sent", "no Slack message to update")
        trigger = target.trigger or {}
        return self._notifier.notify(
            RollbackNotice(
                rollback_id=rollback_id,
                outcome=outcome,
                prompt_name=target.prompt_name,
                provider=target.provider,
                from_version=verdict.from_version if verdict else target.from_version,
                to_version=verdict.to_version if verdict else target.to_version,
                reason=reason,
                basis=target.basis if basis is None else basis,
                actor=actor,
                mode="manual" if actor.startswith(("slack:", "cli:")) else "automatic",
                when=self._clock(),
                stage=self._stage,
                environment=target.environment,
                alertname=str(trigger.get("alertname", "")),
                summary=str(trigger.get("summary", "")),
                generator_url=str(trigger.get("generator_url", "")),
                runbook_url=str(trigger.get("runbook_url", "")),
                channel=channel,
                message_ts=ts,
            )
        )

    def _reply(self, target: AuditRecord, text: str) -> None:
        channel, ts = _slack_of(target)
        if ts:
            self._notifier.reply(channel, ts, text)
