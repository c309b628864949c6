"""The progressive-delivery controller: reads a prompt's ledger, asks domain/rollout_transitions.py
what an event does, appends the records, then makes the registry follow and schedules the next tick.
Records first: a move that fails is made again when the re-delivered message finds them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from prompt_rollback.domain.audit_record import LedgerRecord
from prompt_rollback.domain.canary.analysis import StepWindow
from prompt_rollback.domain.gate_evidence import gate_problem, gate_reference, gate_request_id, latest_gate
from prompt_rollback.domain.rollout_clicks import decide_click
from prompt_rollback.domain.rollout_messages import (
    RolloutClick,
    RolloutCommand,
    RolloutLabelStart,
    RolloutTick,
)
from prompt_rollback.domain.rollout_plan import RolloutPlan, RolloutPlans
from prompt_rollback.domain.rollout_record import RolloutRecord
from prompt_rollback.domain.rollout_slack import rollout_message
from prompt_rollback.domain.rollout_state import Rollout, applied, fold, new_record, started
from prompt_rollback.domain.rollout_transitions import (
    Decision,
    RegistryMove,
    Transition,
    approval_expired,
    by_hand,
    decide_approval,
    judge_step,
    on_bake_look,
    on_look,
    on_outside_move,
    tick_due,
    tick_key,
)
from prompt_rollback.errors import LedgerConflict
from prompt_rollback.ports import (
    APPEND_ATTEMPTS,
    ArmReader,
    AuditLedger,
    PromptRef,
    RolloutAnnouncer,
    RolloutRegistry,
    TickScheduler,
)

# How far back `rollout list` reads a prompt's ledger (a listing only: a rollout's own state is read
# from its first record on, found on the head's guard summary, however long ago that was).
HISTORY_DEPTH = 1000
IsApprover = Callable[[str, tuple[str, ...]], bool]
CheckTarget = Callable[[str, dict[str, str]], None]


@dataclass(frozen=True)
class RolloutAnswer:
    outcome: str  # started | changed | refused | stale | replayed | error | status | list
    answer: str = ""
    rollout: dict[str, Any] | None = None
    langfuse_calls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"outcome": self.outcome, "answer": self.answer, **self.extra}
        if self.rollout is not None:
            body["rollout"] = self.rollout
        if self.langfuse_calls:
            body["analysis_calls"] = self.langfuse_calls
        return body


def _error(answer: str, **extra: Any) -> RolloutAnswer:
    return RolloutAnswer("error", answer, extra=extra)


def _busy(rollout: Rollout, what: str) -> RolloutAnswer:
    """A start refused: the prompt has an active rollout (one rollout per prompt at a time)."""
    return _error(
        f"{rollout.prompt_name} {what} v{rollout.candidate} ({rollout.rollout_id}, {rollout.status}): "
        "abort or finish it first",
        rollout=rollout.status_view(),
    )


def _decided_on_the_newest_head(decide: Callable[[], RolloutAnswer]) -> RolloutAnswer:
    """Run `decide` (read, decide, append) again when another writer appended in between."""
    # The queue keeps one prompt's messages in order, but the CLI invokes the worker directly, so
    # an approval can meet a tick: the loser decides again on what the winner wrote.
    for _ in range(APPEND_ATTEMPTS - 1):
        try:
            return decide()
        except LedgerConflict:
            continue
    return decide()


class RolloutService:
    def __init__(
        self,
        registries: Callable[[str], RolloutRegistry],
        arms: ArmReader,
        ledger: AuditLedger,
        scheduler: TickScheduler | None,
        plans: RolloutPlans,
        is_approver: IsApprover,
        clock: Callable[[], datetime],
        check_target: CheckTarget | None = None,
        announcer: RolloutAnnouncer | None = None,
        stage: str = "",
    ) -> None:
        self._registries = registries
        self._arms = arms
        self._ledger = ledger
        self._scheduler = scheduler
        self._plans = plans
        self._is_approver = is_approver
        self._clock = clock
        self._check_target = check_target
        self._announcer = announcer  # Slack app mode: the rollout's one message
        self._stage = stage

    # ---- reading and writing ------------------------------------------------------------------
    def _read(self, prompt_key: str) -> tuple[Rollout | None, LedgerRecord | None]:
        head = self._ledger.head(prompt_key)
        start = head.guards.rollout_from
        return fold(self._ledger.since(prompt_key, start) if start else ()), head.record

    def _ref(self, rollout: Rollout) -> PromptRef:
        return PromptRef(rollout.prompt_name, dict(rollout.provider_target))

    def _apply(self, rollout: Rollout, transition: Transition, head: LedgerRecord | None) -> Rollout:
        for record in transition.records:
            head = self._ledger.append(record, head)
        after = rollout
        for record in transition.records:
            after = applied(after, record)
        if transition.move is not None:
            self._move(after, transition.move)
        tick = transition.next_tick
        if tick is not None and tick > rollout.ticks_issued:
            self._schedule(after, tick)
        if transition.records:
            self._announce(after)
        return after

    def _announce(self, rollout: Rollout) -> tuple[str, str]:
        """Post or update the rollout's message; where it is (channel, ts), or ("", "")."""
        if self._announcer is None:
            return "", ""
        message = rollout_message(rollout, self._stage)
        outcome = self._announcer.announce_rollout(
            rollout.prompt_name, rollout.rollout_id, message, rollout.slack_channel, rollout.slack_ts
        )
        return (outcome.channel, outcome.ts) if outcome.ts else ("", "")

    def _move(self, rollout: Rollout, move: RegistryMove) -> None:
        registry, ref, label = (
            self._registries(rollout.provider),
            self._ref(rollout),
            rollout.plan.candidate_label,
        )
        if move.kind == "share":
            registry.split(ref, rollout.stable, rollout.candidate, move.share, label)
        elif move.kind == "abort":
            registry.unsplit(ref, rollout.stable, label)
        elif move.kind == "promote":
            registry.move_production(ref, rollout.candidate)
        else:  # rollback: production back onto the exact previous stable, and no more candidate
            registry.move_production(ref, rollout.stable)
            registry.unsplit(ref, rollout.stable, label)

    def _schedule(self, rollout: Rollout, tick: int) -> None:
        if self._scheduler is None:
            return  # local mode and tests drive the ticks themselves
        message = RolloutTick(
            provider=rollout.provider,  # type: ignore[arg-type]  # a provider the rollout was started with
            prompt_name=rollout.prompt_name,
            rollout_id=rollout.rollout_id,
            step=rollout.step,
            tick=tick,
        )
        self._scheduler.schedule_tick(message, tick_due(rollout, self._clock()))

    def _reconcile(self, rollout: Rollout) -> None:
        """Make the registry what the newest record says (after a move that failed once)."""
        last = rollout.last
        if last is None:
            return
        if last.kind in ("rollout_started", "step"):
            self._move(rollout, RegistryMove("share", last.share))
        elif last.kind == "promoted":
            self._move(rollout, RegistryMove("promote"))
        elif last.kind == "aborted":
            rolled_back = last.production == rollout.stable and rollout.bake_until is not None
            self._move(rollout, RegistryMove("rollback" if rolled_back else "abort"))

    # ---- commands -----------------------------------------------------------------------------
    def handle(self, command: RolloutCommand) -> RolloutAnswer:
        if command.command == "start":
            return self.start(command)
        if command.command == "list":
            return _listing(self._ledger.recent(command.prompt_key, HISTORY_DEPTH))
        return _decided_on_the_newest_head(lambda: self._command(command))

    def _command(self, command: RolloutCommand) -> RolloutAnswer:
        rollout, head = self._read(command.prompt_key)
        if rollout is None:
            return _error(f"no rollout of {command.prompt_name} on record")
        if command.command == "status":
            return RolloutAnswer("status", rollout.status_view()["waiting_for"], rollout.status_view())
        now = self._clock()
        if command.command in ("approve", "reject"):
            step = rollout.step if command.step is None else command.step
            decision: Decision = "approve" if command.command == "approve" else "reject"
            transition = decide_approval(rollout, step, command.actor, decision, now, self._is_approver)
        else:
            transition = by_hand(rollout, command.command, command.actor, now, full=command.full)
            if transition.refused and not rollout.active:
                self._reconcile(rollout)
        after = self._apply(rollout, transition, head)
        outcome = "refused" if transition.refused else "changed"
        return RolloutAnswer(outcome, transition.answer, after.status_view())

    def _plan(self, command: RolloutCommand) -> RolloutPlan:
        if command.plan is None:
            return self._plans.plan_for(command.prompt_name)
        return RolloutPlan.model_validate(command.plan)

    def start(self, command: RolloutCommand) -> RolloutAnswer:
        """Bad input gets an answer saying why and changes nothing."""
        try:
            plan = self._plan(command)
        except ValidationError as error:
            return _error("invalid plan", details=_problems(error))
        if command.version is None:
            return _error("start needs --version (the candidate)")
        if self._check_target is not None:
            try:
                self._check_target(command.provider, command.target)
            except ValueError as error:
                return _error(str(error))
        rollout, head = self._read(command.prompt_key)
        if rollout is not None and rollout.active:
            return _busy(rollout, "is already rolling out")
        ref = PromptRef(command.prompt_name, command.target)
        pointer = self._registries(command.provider).read_rollout(ref, plan.candidate_label)
        if command.version not in pointer.versions:
            return _error(f"{command.prompt_name} has no version {command.version}")
        if pointer.production is None:
            return _error(f"{command.prompt_name} has no production version to compare with")
        if command.version == pointer.production:
            return _error(f"v{command.version} is already production: nothing to roll out")
        gate: dict[str, Any] = {}
        if plan.require_gate:
            found = self._ledger.of_request(command.prompt_key, gate_request_id(command.version))
            evidence = latest_gate(found, command.version)
            if evidence is None or not evidence.passed_gate:
                return _error(gate_problem(evidence, command.prompt_name, command.version))
            gate = gate_reference(evidence)
        record = _start_record(command, plan, pointer.production, self._clock(), gate)
        # Posted before the record is written, so the record (and every one after it) keeps its ts.
        channel, ts = self._announce(started(record))
        record = replace(record, slack_channel=channel, slack_ts=ts)
        first = started(record)
        refused = self._append_start(record, head)
        if refused is not None:
            return refused
        self._move(first, RegistryMove("share", record.share))
        self._schedule(first, 1)
        return RolloutAnswer("started", f"v{record.candidate} at {record.share} %", first.status_view())

    def _append_start(self, record: RolloutRecord, head: LedgerRecord | None) -> RolloutAnswer | None:
        """Write the start after whatever else reached the chain first, unless that was another start."""
        for _ in range(APPEND_ATTEMPTS):
            try:
                self._ledger.append(record, head)
                return None
            except LedgerConflict:
                rollout, head = self._read(record.prompt_key)
                if rollout is not None and rollout.active:
                    return _busy(rollout, "has meanwhile started rolling out")
        raise LedgerConflict(f"{record.prompt_key}: the chain kept changing while starting the rollout")

    def start_from_label(self, message: RolloutLabelStart) -> RolloutAnswer:
        """The candidate label added in Langfuse's UI: the default plan, if the version still holds
        the label and is not production (a webhook can arrive after the label moved on)."""
        rollout, _ = self._read(message.prompt_key)
        if rollout is not None and rollout.active and rollout.candidate == message.version:
            return RolloutAnswer("stale", f"v{message.version} is rolling out already ({rollout.rollout_id})")
        plan = self._plans.plan_for(message.prompt_name)
        ref = PromptRef(message.prompt_name)
        pointer = self._registries(message.provider).read_rollout(ref, plan.candidate_label)
        if pointer.candidate != message.version or pointer.production == message.version:
            where = f"v{pointer.candidate}" if pointer.candidate is not None else "no version"
            return RolloutAnswer(
                "stale", f"{plan.candidate_label} is on {where} now, not v{message.version}: not started"
            )
        command = RolloutCommand(
            command="start",
            provider=message.provider,
            prompt_name=message.prompt_name,
            version=message.version,
            actor=message.actor,
        )
        return self.start(command)

    def click(self, click: RolloutClick, verified: bool, sender: str = "") -> RolloutAnswer:
        """A button on the rollout's Slack message. A click nobody vouches for (not queued by the
        Slack actions function) is recorded as refused and not acted on; its clicker is not told."""
        return _decided_on_the_newest_head(lambda: self._click(click, verified, sender))

    def _click(self, click: RolloutClick, verified: bool, sender: str) -> RolloutAnswer:
        rollout, head = self._read(click.prompt_key)
        if rollout is None or rollout.rollout_id != click.rollout_id:
            return _error(f"{click.rollout_id} is not the rollout of {click.prompt_name} on record")
        now = self._clock()
        if not verified:
            sent_by = sender or "unknown"
            reason = f"not acted on: the click was not sent by the Slack actions function (sender {sent_by})"
            record = new_record(
                rollout, "rejected", now, click.actor, reason, detail={"refused": True, "unverified": True}
            )
            self._ledger.append(record, head)
            return RolloutAnswer("unverified", reason)
        transition = decide_click(
            rollout, click.rollout_id, click.click, click.user_id, click.actor, now, self._is_approver
        )
        after = self._apply(rollout, transition, head)
        if transition.refused and self._announcer is not None and click.channel_id:
            self._announcer.tell(click.channel_id, click.user_id, f"{transition.answer}. Nothing changed.")
        outcome = "refused" if transition.refused else "changed"
        return RolloutAnswer(outcome, transition.answer, after.status_view())

    # ---- ticks --------------------------------------------------------------------------------
    def tick(self, tick: RolloutTick) -> RolloutAnswer:
        return _decided_on_the_newest_head(lambda: self._tick(tick))

    def _tick(self, tick: RolloutTick) -> RolloutAnswer:
        rollout, head = self._read(tick.prompt_key)
        if rollout is None or rollout.rollout_id != tick.rollout_id or not rollout.active:
            return RolloutAnswer("stale", "no such active rollout")
        if tick_key(tick.rollout_id, tick.step, tick.tick) in rollout.tick_keys:
            self._reconcile(rollout)  # the first delivery may have stopped between its records and its move
            if rollout.next_tick is not None:
                self._schedule(rollout, rollout.next_tick)
            return RolloutAnswer("replayed", "this tick was already handled", rollout.status_view())
        if tick.tick != rollout.next_tick:
            return RolloutAnswer("stale", f"tick {tick.tick} is not the one the rollout waits for")
        now = self._clock()
        transition, calls = self._look(rollout, tick.tick, now)
        after = self._apply(rollout, transition, head)
        return RolloutAnswer("changed", transition.answer, after.status_view(), langfuse_calls=calls)

    def _look(self, rollout: Rollout, tick: int, now: datetime) -> tuple[Transition, int]:
        if rollout.outside_move is not None:
            return on_outside_move(rollout, now), 0
        expired = approval_expired(rollout, now)
        if expired is not None:
            return expired, 0
        ref = self._ref(rollout)
        if rollout.status == "baking":
            values: dict[str, tuple[float | None, int]] = {}
            calls = 0
            for trigger in rollout.plan.bake.triggers:
                read = self._arms.read_arms(ref, rollout.candidate, rollout.stable, now - trigger.window, now)
                calls += read.calls
                values[trigger.metric] = _bake_value(trigger.metric, read.canary)
            return on_bake_look(rollout, tick, values, now), calls
        start = rollout.step_started_at or rollout.started_at
        read = self._arms.read_arms(ref, rollout.candidate, rollout.stable, start, now)
        window = StepWindow(share=rollout.share, canary=read.canary, stable=read.stable)
        return on_look(rollout, tick, judge_step(rollout, window, now), window, now), read.calls


def _bake_value(metric: str, arm: Any) -> tuple[float | None, int]:
    if metric == "error_rate":
        return (arm.errors / arm.requests if arm.requests else None), arm.requests
    exact = arm.exact_match
    return (exact.successes / exact.trials if exact and exact.trials else None), (
        exact.trials if exact else 0
    )


def _start_record(
    command: RolloutCommand, plan: RolloutPlan, stable: int, now: datetime, gate: dict[str, Any]
) -> RolloutRecord:
    digest = hashlib.sha256(f"{command.prompt_key}\x1f{command.version}\x1f{now.isoformat()}".encode())
    share = plan.steps[0].share
    probe = Rollout(
        rollout_id="ro-" + digest.hexdigest()[:16],
        prompt_key=command.prompt_key,
        prompt_name=command.prompt_name,
        provider=command.provider,
        candidate=command.version or 0,
        stable=stable,
        plan=plan,
        started_at=now,
        started_by=command.actor,
        provider_target=command.target,
    )
    reason = plan.notes.intent or f"rollout of v{command.version} started by {command.actor}"
    detail: dict[str, Any] = {"plan": plan.model_dump(mode="json")}
    if gate:
        detail["gate"] = gate
    return new_record(
        probe,
        "rollout_started",
        now,
        command.actor,
        reason,
        share=share,
        production=stable,
        next_tick=1,
        detail=detail,
    )


def _listing(records_newest_first: Sequence[LedgerRecord]) -> RolloutAnswer:
    rollouts: dict[str, Rollout] = {}
    for record in reversed(records_newest_first):
        if isinstance(record, RolloutRecord) and record.kind == "rollout_started":
            rollouts[record.rollout_id] = started(record)
    views = []
    for rollout_id in reversed(list(rollouts)):
        folded = fold(
            r for r in reversed(records_newest_first) if getattr(r, "rollout_id", rollout_id) == rollout_id
        )
        if folded is not None:
            views.append(folded.status_view())
    return RolloutAnswer("list", f"{len(views)} rollouts", extra={"rollouts": views})


def _problems(error: ValidationError) -> list[dict[str, str]]:
    return [
        {"loc": ".".join(str(part) for part in e["loc"]), "msg": e["msg"]}
        for e in error.errors(include_url=False, include_input=False)
    ]
