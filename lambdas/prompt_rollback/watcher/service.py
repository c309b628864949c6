"""One run of the watcher: observe, advance every `for:` state, write, then signal.
A state change and its signals are written together, then sent: a run that loses a write sends nothing
for that key, and one that dies before sending leaves the signal in the outbox for the next run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prompt_rollback.domain.intake import SkippedAlert, triage
from prompt_rollback.domain.watch import (
    Observation,
    Phase,
    Signal,
    SignalKind,
    WatchState,
    after_sent,
    plan_run,
)
from prompt_rollback.domain.watch_alerts import WATCHER_ACTOR, as_webhook_body
from prompt_rollback.ports import NoData, Observer, RollbackQueue, StateConflict, WatchStateStore


@dataclass
class RunReport:
    no_data_reason: str | None = None
    langfuse_calls: int = 0
    pending: int = 0
    firing: int = 0
    fired: list[Signal] = field(default_factory=list)
    resolved: list[Signal] = field(default_factory=list)
    queued_request_ids: list[str] = field(default_factory=list)
    skipped: list[SkippedAlert] = field(default_factory=list)
    conflicts: int = 0
    send_failures: int = 0

    @property
    def no_data(self) -> bool:
        return self.no_data_reason is not None


class IntakeSignalSender:
    """Signals as Alertmanager alerts through the webhook's intake, onto the rollback queue."""

    def __init__(self, queue: RollbackQueue, clock: Callable[[], datetime]) -> None:
        self._queue = queue
        self._clock = clock

    def send(self, signals: Sequence[Signal]) -> tuple[list[str], list[SkippedAlert]]:
        now = self._clock()
        intake = triage(as_webhook_body(signals, now), received_at=now, source=WATCHER_ACTOR)
        requests = [request.model_copy(update={"actor": WATCHER_ACTOR}) for request in intake.accepted]
        if requests:
            self._queue.enqueue(requests)
        # Resolved alerts end the recovery window of the rollback they caused: queued as the
        # webhook queues them, so the recovery check hears the watcher too.
        if intake.resolved:
            self._queue.enqueue_resolutions(intake.resolved)
        return [request.request_id for request in requests], intake.skipped


def run_once(
    now: datetime, observer: Observer, store: WatchStateStore, sender: IntakeSignalSender
) -> RunReport:
    report = RunReport()
    states = store.load_all()
    observations: list[Observation] | None
    try:
        observed = observer.observe(now)
        observations = observed.observations
        report.langfuse_calls = observed.langfuse_calls
    except NoData as error:
        observations = None
        report.no_data_reason = str(error) or type(error).__name__
    plan = plan_run(states, observations, now)

    owed: list[WatchState] = [state for state, _ in plan.unsent]
    after_run: dict[object, WatchState | None] = {state.key: state for state in states}
    for change in plan.changes:
        before = change.before
        try:
            if change.after is None:
                assert before is not None
                store.delete(before)
                after_run[before.key] = None
                continue
            saved = store.save(change.after, before.revision if before else 0)
        except StateConflict:
            report.conflicts += 1
            continue
        after_run[saved.key] = saved
        for signal in change.new_signals:
            (report.fired if signal.kind is SignalKind.FIRING else report.resolved).append(signal)
        if saved.outbox:
            owed.append(saved)

    for state in owed:
        try:
            request_ids, skipped = sender.send(state.outbox)
        except Exception:
            # Stays in the outbox: the next run sends it again (same ids, so at most once acted on).
            report.send_failures += 1
            continue
        report.queued_request_ids.extend(request_ids)
        report.skipped.extend(skipped)
        remaining = after_sent(state, state.outbox)
        try:
            if remaining is None:
                store.delete(state)
            else:
                remaining = store.save(remaining, state.revision)
        except StateConflict:
            report.conflicts += 1  # the other run holds the outbox now and will send it too
            continue
        after_run[state.key] = remaining

    live = [state for state in after_run.values() if state is not None]
    report.pending = sum(1 for state in live if state.phase is Phase.PENDING)
    report.firing = sum(1 for state in live if state.phase is Phase.FIRING)
    return report
