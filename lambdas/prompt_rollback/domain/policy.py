"""The rollback policy: whether to act on a request and which version to go back to, as pure
functions over what the registry says now and what our ledger remembers (our decisions, and the
production changes people made: Langfuse keeps no label history we could ask)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from prompt_rollback.domain.policy_config import Guards, PolicyConfig


class Outcome(StrEnum):
    ROLLED_BACK = "rolled_back"
    DRY_RUN = "dry_run"
    SKIPPED = "skipped"
    FAILED = "failed"
    PROPOSED = "proposed"  # approval mode: decided and announced, waiting for a person
    NEEDS_PERSON = "needs_person"  # no cascade: another automatic step back is not allowed


@dataclass(frozen=True)
class RegistryState:
    """What the prompt registry says right now."""

    production_version: int | None
    versions: frozenset[int]
    # Versions that held production before, newest first, when the registry itself keeps that
    # history (Bedrock alias history, SSM parameter history); Langfuse keeps none.
    previous_production: tuple[int, ...] = ()
    # False when only production was read (needs_version_list): `versions` is then empty, as the
    # registry said nothing about them, and `recorded` holds the versions the ledger names as
    # earlier holders of production. They may have been deleted since: the move then finds out.
    listed: bool = True
    recorded: frozenset[int] = frozenset()
    # False when production was not read yet but taken from the alert, with which the ledger
    # agrees (assumed_production): the rollback reads it after taking its intent, just before the
    # move, so that one read is both the decision's input and the check that nobody moved it.
    confirmed: bool = True

    @classmethod
    def production_only(
        cls, production: int, recorded: frozenset[int], confirmed: bool = True
    ) -> RegistryState:
        return cls(production, frozenset(), listed=False, recorded=recorded, confirmed=confirmed)

    def known(self, version: int) -> bool:
        """Listed by the registry, or (versions not listed) named by the ledger."""
        return version in (self.versions if self.listed else self.recorded)


@dataclass(frozen=True)
class PastDecision:
    """One earlier decision about the same prompt, from the audit ledger (newest first)."""

    outcome: Outcome
    recorded_at: datetime
    from_version: int | None
    to_version: int | None
    observed_production: int | None
    request_id: str = ""


@dataclass(frozen=True)
class PastChange:
    """A move of production someone made outside this service, as recorded from Langfuse's
    webhooks or CloudTrail (a `change` record). Exact: it was recorded as it happened."""

    changed_at: datetime
    from_version: int | None
    to_version: int | None
    actor: str


def held_before(
    current: int, changes: Sequence[PastChange], history: Sequence[PastDecision]
) -> list[tuple[int, str]]:
    """The versions that held production before `current`, newest first, following recorded moves
    (people's changes and our rollbacks) backwards from the one that put `current` there."""
    moves = [(c.changed_at, c.from_version, c.to_version, f"{c.actor} moved it") for c in changes]
    moves += [
        (d.recorded_at, d.from_version, d.to_version, "we rolled it back")
        for d in history
        if d.outcome is Outcome.ROLLED_BACK
    ]
    holder, found = current, []
    for at, from_version, to_version, how in sorted(moves, key=lambda m: m[0], reverse=True):
        if to_version == holder and from_version is not None:
            found.append(
                (
                    from_version,
                    f"held production before v{holder} until {at:%Y-%m-%d %H:%M}Z, when {how}",
                )
            )
            holder = from_version
    return found


@dataclass(frozen=True)
class Ask:
    """The parts of a rollback request the policy looks at."""

    prompt_name: str
    alerted_version: int | None
    rollback_to: int | None
    forced: bool
    dry_run: bool | None
    # With `forced` only: lets `rollback_to` name a version newer than production.
    allow_forward: bool = False


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str
    from_version: int | None
    to_version: int | None = None
    basis: str = ""
    # Skips that only restate what already happened (a re-sent or stale alert) are audited but
    # not posted to Slack: people need to hear about guards that stopped a rollback, not echoes.
    notify: bool = True
    # A skip that leaves the alerted version live with no way back the policy can choose on its
    # own (no known-good version): a person is paged.
    needs_a_person: bool = False

    @property
    def acts(self) -> bool:
        return self.outcome is Outcome.ROLLED_BACK


# A person's move this recent is news to whoever sent the alert: the skip is announced with who.
PERSON_MOVED_IT_RECENTLY = timedelta(minutes=15)


def _skip(
    reason: str, from_version: int | None, notify: bool = True, needs_a_person: bool = False
) -> Decision:
    return Decision(Outcome.SKIPPED, reason, from_version, notify=notify, needs_a_person=needs_a_person)


def rolled_back_versions(history: Sequence[PastDecision]) -> frozenset[int]:
    """Versions we once rolled away from: never a target again unless someone insists."""
    return frozenset(
        d.from_version for d in history if d.outcome is Outcome.ROLLED_BACK and d.from_version is not None
    )


def recorded_before(
    current: int, history: Sequence[PastDecision], changes: Sequence[PastChange]
) -> frozenset[int]:
    """The versions the ledger names as having held production before `current`."""
    return frozenset(version for version, _ in held_before(current, changes, history))


def assumed_production(ask: Ask, on_record: int | None) -> int | None:
    """The version a rollback may take as production before reading it: the alerted one, when
    the ledger last saw it there or saw nothing. None (read first) when they disagree, which is
    most often a re-sent alert after a rollback, to be skipped without taking the lock."""
    if ask.alerted_version is None or on_record not in (None, ask.alerted_version):
        return None
    return ask.alerted_version


def needs_version_list(
    ask: Ask, production: int | None, history: Sequence[PastDecision], changes: Sequence[PastChange]
) -> bool:
    """Whether deciding this ask needs the registry's list of versions, or production alone will
    do: it will when no `rollback_to` is asked for and the ledger names a version that held
    production before this one and may be a target (older, never rolled back). The list adds
    nothing then; a version deleted since is caught by the move itself (Langfuse answers 404)."""
    if ask.rollback_to is not None or production is None:
        return True
    bad = rolled_back_versions(history) | {production}
    return not any(v < production and v not in bad for v, _ in held_before(production, changes, history))


def _explicit_problem(
    explicit: int, current: int, state: RegistryState, bad: frozenset[int], forced: bool, forward: bool
) -> str | None:
    """Why `rollback_to` cannot be the target, or None when it can."""
    if explicit == current:
        return "it is the version in production"
    if not state.listed:
        raise ValueError("a rollback_to is judged on the registry's list of versions")
    if explicit not in state.versions:
        return "it does not exist"
    if explicit > current and not forward:
        return f"it is newer than production v{current} (a rollback never moves forward)"
    if explicit in bad and not forced:
        return "it was itself rolled back before"
    return None


# Said in the decision and in Slack whenever nothing on record names the version before production.
UNKNOWN_PREVIOUS = "previous production unknown (nothing on record; `prompt-rollback adopt` records it)"
GUESSED_TARGET = "guessed the highest earlier version that was not rolled back"


def _earlier_target(
    current: int,
    state: RegistryState,
    history: Sequence[PastDecision],
    bad: frozenset[int],
    changes: Sequence[PastChange] = (),
) -> tuple[int, str] | str:
    """The policy's own choice: only ever an existing version older than production."""

    def usable(version: int | None) -> bool:
        return version is not None and version < current and version not in bad and state.known(version)

    for earlier, basis in held_before(current, changes, history):
        if usable(earlier):
            return earlier, basis

    for earlier in state.previous_production:
        if usable(earlier):
            return earlier, "held production before (registry history)"
    for past in history:
        for candidate in (
            past.to_version if past.outcome is Outcome.ROLLED_BACK else None,
            past.observed_production,
        ):
            if candidate is not None and usable(candidate):
                return candidate, f"held production before (audit ledger, {past.recorded_at:%Y-%m-%d %H:%M}Z)"
    if not state.listed:
        raise ValueError(f"no recorded version before v{current} to go back to: needs the version list")
    lower = [v for v in state.versions if usable(v)]
    if lower:
        return max(lower), f"{UNKNOWN_PREVIOUS}: {GUESSED_TARGET}"
    return f"no known-good version to go back to from v{current}"


def choose_target(
    current: int,
    explicit: int | None,
    state: RegistryState,
    history: Sequence[PastDecision],
    forced: bool = False,
    allow_forward: bool = False,
    changes: Sequence[PastChange] = (),
) -> tuple[int, str] | str:
    """The version to roll back to and why, or the reason there is none.

    Order: an explicit `rollback_to`; else the version that held production before, as the
    recorded change history (exact), the registry's own history or else our ledger remembers
    it; else, saying the previous production is unknown, the highest lower version that exists
    and was not itself rolled back. Never
    blindly `current - 1`, never a version that does not exist, never one newer than
    production unless a forced request allows it.

    An alert's `rollback_to` is a hint: when it cannot be used (missing, newer, the production
    version, rolled back before) the target is chosen as if it were absent, and the basis says
    why it was ignored; skipping would leave the version the alert is about live. A forced
    request's `rollback_to` is an order from someone who is there to read the answer: if it
    cannot be used, nothing moves and the reason says why.
    """
    bad = rolled_back_versions(history) | {current}
    ignored = ""
    if explicit is not None:
        problem = _explicit_problem(explicit, current, state, bad, forced, forward=forced and allow_forward)
        if problem is None:
            if explicit > current:
                return explicit, "rollback_to requested; moves forward (allow_forward)"
            return explicit, "rollback_to requested"
        if forced:
            hint = "; allow_forward to insist" if explicit > current and explicit in state.versions else ""
            return f"rollback_to v{explicit} {problem.removeprefix('it ')}{hint}"
        ignored = f"; rollback_to v{explicit} ignored: {problem}"
    target = _earlier_target(current, state, history, bad, changes)
    if isinstance(target, str):
        return target + ignored
    return target[0], target[1] + ignored


def _already_moved(
    ask: Ask, current: int, changes: Sequence[PastChange], history: Sequence[PastDecision], now: datetime
) -> Decision | None:
    """A skip when production left the alerted version before this request arrived."""
    if ask.alerted_version is None or current == ask.alerted_version:
        return None
    moved_by = next((c for c in changes if c.to_version == current), None)
    ours = next((d for d in history if d.outcome is Outcome.ROLLED_BACK and d.to_version == current), None)
    if ours is not None and (moved_by is None or ours.recorded_at >= moved_by.changed_at):
        # Our own rollback put it there (another alert of the same body, an alarm that flapped):
        # an echo, audited and not posted.
        return _skip(
            f"already moved: prompt-rollback moved production to v{current} at "
            f"{ours.recorded_at:%Y-%m-%d %H:%M}Z ({ours.request_id or 'rollback'}); "
            f"the alert was about v{ask.alerted_version}",
            current,
            notify=False,
        )
    if moved_by is not None and now - moved_by.changed_at < PERSON_MOVED_IT_RECENTLY:
        # A person moved production while this alert was on its way: say who, once.
        return _skip(
            f"already moved: {moved_by.actor} moved production to v{current} at "
            f"{moved_by.changed_at:%Y-%m-%d %H:%M}Z; the alert was about v{ask.alerted_version}",
            current,
        )
    return _skip(
        f"already moved: production is v{current}, the alert was about v{ask.alerted_version}",
        current,
        notify=False,
    )


def _over_the_limits(
    history: Sequence[PastDecision], guards: Guards, now: datetime, current: int
) -> Decision | None:
    """A skip when an automatic rollback would break the cooldown or the daily limit."""
    rollbacks = [d for d in history if d.outcome is Outcome.ROLLED_BACK]
    if rollbacks and now - rollbacks[0].recorded_at < guards.cooldown:
        minutes = int(guards.cooldown.total_seconds() // 60)
        last = rollbacks[0].recorded_at
        return _skip(
            f"cooldown: last rollback at {last:%Y-%m-%d %H:%M}Z, cooldown {minutes} min",
            current,
        )
    today = [d for d in rollbacks if now - d.recorded_at < timedelta(days=1)]
    if len(today) >= guards.max_rollbacks_per_day:
        return _skip(
            f"daily limit: {len(today)} rollbacks in 24 h, maximum {guards.max_rollbacks_per_day}",
            current,
        )
    return None


def decide(
    ask: Ask,
    state: RegistryState,
    history: Sequence[PastDecision],
    config: PolicyConfig,
    now: datetime,
    changes: Sequence[PastChange] = (),
) -> Decision:
    """Decide what to do about one rollback request. `history` and `changes` are newest first."""
    current = state.production_version
    if not ask.forced and not config.allows(ask.prompt_name):
        return _skip("prompt is not in the allow-list of automatic rollbacks", current)
    if state.listed and not state.versions:
        return _skip("prompt does not exist in the registry", current)
    if current is None:
        return _skip("no version carries the production label", current)
    moved = _already_moved(ask, current, changes, history, now)
    if moved is not None:
        return moved
    guards = config.guards_for(ask.prompt_name)
    stop = None if ask.forced else _over_the_limits(history, guards, now, current)
    if stop is not None:
        return stop
    target = choose_target(
        current,
        ask.rollback_to,
        state,
        history,
        forced=ask.forced,
        allow_forward=ask.allow_forward,
        changes=changes,
    )
    if isinstance(target, str):
        # An alert with nowhere to go needs a person; a forced request's person reads the answer.
        return _skip(target, current, needs_a_person=not ask.forced)
    to_version, basis = target
    # A forced rollback is an on-call engineer insisting: it acts unless they ask for a dry run.
    default_dry_run = False if ask.forced else guards.dry_run
    dry_run = default_dry_run if ask.dry_run is None else ask.dry_run
    if dry_run:
        return Decision(Outcome.DRY_RUN, "dry-run: would roll back", current, to_version, basis)
    return Decision(Outcome.ROLLED_BACK, "rolled back", current, to_version, basis)
