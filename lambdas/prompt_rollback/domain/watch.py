"""The watcher's `for:` state machine, per prompt, version and trigger, advanced as Prometheus does.
One deliberate difference: a run without data changes nothing (docs/watcher.md); signals are
not sent from here but put in the state's outbox, written with the state change in one write."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum


class Phase(StrEnum):
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"  # kept only until its resolved signal is sent


class SignalKind(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, order=True)
class WatchKey:
    """What one `for:` state is about: as the labels of one Prometheus alert."""

    prompt_name: str
    prompt_version: int
    trigger: str
    environment: str = ""

    @property
    def item_id(self) -> str:
        """Stable text form, the state table's partition key."""
        return "\x1f".join((self.environment, self.prompt_name, str(self.prompt_version), self.trigger))


@dataclass(frozen=True)
class Observation:
    """This run's verdict on one trigger of one production prompt version."""

    key: WatchKey
    breaching: bool
    hold_for: timedelta
    value: float | None = None
    summary: str = ""


@dataclass(frozen=True)
class Signal:
    """What the watcher tells the rollback pipeline: an alert firing, or the same alert resolved."""

    kind: SignalKind
    key: WatchKey
    fired_at: datetime
    value: float | None = None
    summary: str = ""
    resolved_at: datetime | None = None

    @property
    def fingerprint(self) -> str:
        """Stable per firing: prompt, version, trigger, env and when it started firing.

        Its resolved signal carries the same fingerprint and start, as Alertmanager's does, so
        the recovery check can pair them; the rollback request id derived from it is the same on
        every re-send.
        """
        material = "\x1f".join((self.key.item_id, self.fired_at.isoformat()))
        return hashlib.sha256(material.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class WatchState:
    key: WatchKey
    phase: Phase
    active_since: datetime
    fired_at: datetime | None = None
    value: float | None = None  # the trigger's value when the phase last changed
    summary: str = ""
    outbox: tuple[Signal, ...] = ()
    # Optimistic concurrency: the revision a write expects to replace (0 = not stored yet).
    revision: int = 0


@dataclass(frozen=True)
class Change:
    """One state to write (`after` None: delete) because this run decided something."""

    before: WatchState | None
    after: WatchState | None
    new_signals: tuple[Signal, ...] = ()


@dataclass(frozen=True)
class Plan:
    changes: list[Change] = field(default_factory=list)
    # Signals of states this run did not change but whose outbox is still full (a previous run
    # died between its write and its send).
    unsent: list[tuple[WatchState, tuple[Signal, ...]]] = field(default_factory=list)


# As Prometheus advances an alerting rule evaluated at the same instant:
# - condition true, no state           -> pending since now (firing at once when `for:` is 0);
# - pending, true for at least `for:`  -> firing (the rollback request goes out);
# - pending, condition false           -> forgotten (nothing was ever announced);
# - firing, condition false            -> resolved (the resolved signal goes out);
# - a stored key with no observation this run (the version left production, or has no
#   traffic) is false, as a series that vanished from a rule's result is.
# A pending state keeps its start time across runs without data.
def advance(state: WatchState | None, observation: Observation | None, now: datetime) -> Change | None:
    """The next state of one key, or None when nothing is to be written."""
    breaching = observation is not None and observation.breaching
    live = state if state is not None and state.phase is not Phase.RESOLVED else None
    outbox = state.outbox if state is not None else ()

    if live is None:
        if not breaching:
            return None
        assert observation is not None
        pending = WatchState(
            key=observation.key,
            phase=Phase.PENDING,
            active_since=now,
            value=observation.value,
            summary=observation.summary,
            outbox=outbox,
            revision=state.revision if state is not None else 0,
        )
        return _maybe_fire(state, pending, observation, now)

    if not breaching:
        if live.phase is Phase.PENDING:
            # A pending alert that stops holding vanishes without a word, in Prometheus too.
            return Change(before=state, after=None) if not outbox else _keep_outbox(state, live)
        assert live.fired_at is not None
        resolved = Signal(
            kind=SignalKind.RESOLVED,
            key=live.key,
            fired_at=live.fired_at,
            value=observation.value if observation is not None else None,
            summary=live.summary,
            resolved_at=now,
        )
        after = replace(live, phase=Phase.RESOLVED, value=resolved.value, outbox=(*outbox, resolved))
        return Change(before=state, after=after, new_signals=(resolved,))

    assert observation is not None
    if live.phase is Phase.FIRING:
        return None  # still firing: already announced, nothing to write (one write per transition)
    fired = _maybe_fire(state, live, observation, now)
    return fired if fired.new_signals else None  # still pending: keeps its start, nothing to write


def _maybe_fire(
    before: WatchState | None, pending: WatchState, observation: Observation, now: datetime
) -> Change:
    if now - pending.active_since < observation.hold_for:
        return Change(before=before, after=pending)
    firing = Signal(
        kind=SignalKind.FIRING,
        key=pending.key,
        fired_at=now,
        value=observation.value,
        summary=observation.summary,
    )
    after = replace(
        pending,
        phase=Phase.FIRING,
        fired_at=now,
        value=observation.value,
        summary=observation.summary,
        outbox=(*pending.outbox, firing),
    )
    return Change(before=before, after=after, new_signals=(firing,))


def _keep_outbox(state: WatchState | None, live: WatchState) -> Change:
    """A state that would vanish but still owes a signal becomes a resolved-in-waiting."""
    assert state is not None
    return Change(before=state, after=replace(live, phase=Phase.RESOLVED))


def plan_run(
    states: Iterable[WatchState],
    observations: Iterable[Observation] | None,
    now: datetime,
) -> Plan:
    """Everything one run writes and sends. `observations` None: this run has no data."""
    by_key: dict[WatchKey, WatchState] = {state.key: state for state in states}
    plan = Plan()
    if observations is None:
        plan.unsent.extend((state, state.outbox) for state in by_key.values() if state.outbox)
        return plan
    observed: Mapping[WatchKey, Observation] = {o.key: o for o in observations}
    for key in sorted(set(by_key) | set(observed)):
        state = by_key.get(key)
        change = advance(state, observed.get(key), now)
        if change is not None:
            plan.changes.append(change)
        elif state is not None and state.outbox:
            plan.unsent.append((state, state.outbox))
    return plan


# A run that dies between the write and the send leaves the signal in the outbox; the next
# run sends it again with the same deterministic id, which the queue and the worker absorb.
def after_sent(state: WatchState, sent: Iterable[Signal]) -> WatchState | None:
    """The state once `sent` reached the queue: outbox emptied; a resolved state is done."""
    done = set(sent)
    remaining = tuple(signal for signal in state.outbox if signal not in done)
    if state.phase is Phase.RESOLVED and not remaining:
        return None
    return replace(state, outbox=remaining)
