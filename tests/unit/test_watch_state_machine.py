"""The watcher's `for:` state machine as plain data: no mocks, no AWS, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prompt_rollback.domain.watch import (
    Observation,
    Phase,
    Plan,
    SignalKind,
    WatchKey,
    WatchState,
    after_sent,
    plan_run,
)

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RUN = timedelta(minutes=5)
KEY = WatchKey("support-answer", 7, "exact_match")
OTHER = WatchKey("billing-faq", 3, "error_rate")


def obs(breaching: bool, key: WatchKey = KEY, hold: timedelta = timedelta(minutes=15)) -> Observation:
    return Observation(key=key, breaching=breaching, hold_for=hold, value=-0.2 if breaching else 0.0)


class Store:
    """Applies plans the way the run does: write changes, send outboxes, empty them."""

    def __init__(self) -> None:
        self.states: dict[WatchKey, WatchState] = {}
        self.sent: list[tuple[SignalKind, WatchKey, datetime]] = []

    def run(self, now: datetime, observations: list[Observation] | None, deliver: bool = True) -> Plan:
        plan = plan_run(self.states.values(), observations, now)
        owed: list[WatchState] = [state for state, _ in plan.unsent]
        for change in plan.changes:
            key = (change.after or change.before).key  # type: ignore[union-attr]
            if change.after is None:
                self.states.pop(key, None)
            else:
                self.states[key] = change.after
                if change.after.outbox:
                    owed.append(change.after)
        if deliver:
            for state in owed:
                self.sent.extend((s.kind, s.key, s.fired_at) for s in state.outbox)
                remaining = after_sent(state, state.outbox)
                if remaining is None:
                    self.states.pop(state.key)
                else:
                    self.states[state.key] = remaining
        return plan

    def phase(self, key: WatchKey = KEY) -> Phase | None:
        state = self.states.get(key)
        return state.phase if state else None


def test_pending_then_firing_after_for_then_one_firing_signal():
    store = Store()
    store.run(T0, [obs(True)])
    assert store.phase() is Phase.PENDING
    store.run(T0 + RUN, [obs(True)])
    store.run(T0 + 2 * RUN, [obs(True)])
    assert store.phase() is Phase.PENDING and store.sent == []
    store.run(T0 + 3 * RUN, [obs(True)])  # held for exactly 15 minutes
    assert store.phase() is Phase.FIRING
    assert store.sent == [(SignalKind.FIRING, KEY, T0 + 3 * RUN)]
    for n in range(4, 10):
        store.run(T0 + n * RUN, [obs(True)])
    assert len(store.sent) == 1, "a firing alert is announced once"


def test_firing_then_clear_sends_resolved_with_the_same_fingerprint():
    store = Store()
    for n in range(4):
        store.run(T0 + n * RUN, [obs(True)])
    plan = store.run(T0 + 4 * RUN, [obs(False)])
    (change,) = plan.changes
    (resolved,) = change.new_signals
    assert resolved.kind is SignalKind.RESOLVED and resolved.resolved_at == T0 + 4 * RUN
    assert store.sent[-1] == (SignalKind.RESOLVED, KEY, T0 + 3 * RUN)
    assert store.phase() is None, "resolved and sent: the state is gone"


def test_version_leaving_production_resolves_like_a_vanished_series():
    store = Store()
    for n in range(4):
        store.run(T0 + n * RUN, [obs(True)])
    store.run(T0 + 4 * RUN, [])  # v7 is no longer production: no observation for it
    assert [kind for kind, *_ in store.sent] == [SignalKind.FIRING, SignalKind.RESOLVED]


def test_pending_that_clears_is_forgotten_silently():
    store = Store()
    store.run(T0, [obs(True)])
    store.run(T0 + RUN, [obs(False)])
    assert store.phase() is None and store.sent == []


def test_no_data_neither_fires_nor_clears_and_keeps_the_pending_start():
    store = Store()
    store.run(T0, [obs(True)])
    for n in (1, 2, 3, 4):
        store.run(T0 + n * RUN, None)
    assert store.phase() is Phase.PENDING and store.states[KEY].active_since == T0
    assert store.sent == []
    store.run(T0 + 5 * RUN, [obs(True)])
    assert store.phase() is Phase.FIRING

    for n in (6, 7, 8):
        store.run(T0 + n * RUN, None)
    assert store.phase() is Phase.FIRING, "silence does not resolve a firing alert"
    assert [kind for kind, *_ in store.sent] == [SignalKind.FIRING]


def test_flapping_metric_restarts_the_for_clock_and_never_fires():
    store = Store()
    for n in range(12):
        store.run(T0 + n * RUN, [obs(n % 3 != 2)])  # true, true, false, ...
    assert store.sent == []


def test_for_zero_fires_on_the_first_breaching_run():
    store = Store()
    store.run(T0, [obs(True, hold=timedelta(0))])
    assert store.sent == [(SignalKind.FIRING, KEY, T0)]


def test_two_prompts_are_independent():
    store = Store()
    for n in range(4):
        store.run(T0 + n * RUN, [obs(True), obs(n >= 1, key=OTHER, hold=timedelta(minutes=5))])
    assert store.phase() is Phase.FIRING and store.phase(OTHER) is Phase.FIRING
    assert sorted(store.sent) == sorted(
        [(SignalKind.FIRING, OTHER, T0 + 2 * RUN), (SignalKind.FIRING, KEY, T0 + 3 * RUN)]
    )


def test_signal_not_delivered_stays_owed_and_is_sent_again_even_without_data():
    store = Store()
    for n in range(3):
        store.run(T0 + n * RUN, [obs(True)])
    store.run(T0 + 3 * RUN, [obs(True)], deliver=False)  # the run died after its write
    assert store.states[KEY].outbox and store.sent == []
    plan = store.run(T0 + 4 * RUN, None)  # no data, but the decision was already made
    assert [s.kind for _, signals in plan.unsent for s in signals] == [SignalKind.FIRING]
    assert store.sent == [(SignalKind.FIRING, KEY, T0 + 3 * RUN)]
    assert not store.states[KEY].outbox


def test_fingerprint_is_stable_per_firing_and_differs_between_firings():
    store = Store()
    firings = []
    for n in range(12):
        plan = store.run(T0 + n * RUN, [obs(n not in (5,), hold=timedelta(minutes=5))])
        firings += [s for c in plan.changes for s in c.new_signals]
    fire1, resolved1, fire2 = firings
    assert fire1.fingerprint == resolved1.fingerprint
    assert fire2.fingerprint != fire1.fingerprint
    assert len(fire1.fingerprint) == 16
