"""The rollback policy, as plain data in and decisions out: no mocks, no AWS, no HTTP."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from prompt_rollback.domain.policy import (
    GUESSED_TARGET,
    UNKNOWN_PREVIOUS,
    Ask,
    Outcome,
    PastDecision,
    RegistryState,
    choose_target,
    decide,
)
from prompt_rollback.domain.policy_config import PolicyConfig
from pydantic import ValidationError

NOW = datetime(2026, 4, 17, 14, 30, tzinfo=UTC)
GUESS = f"{UNKNOWN_PREVIOUS}: {GUESSED_TARGET}"


def state(production: int | None, *versions: int) -> RegistryState:
    return RegistryState(production_version=production, versions=frozenset(versions))


def ask(
    alerted: int | None = 7,
    rollback_to: int | None = None,
    forced: bool = False,
    dry_run: bool | None = None,
    name: str = "support-answer",
) -> Ask:
    return Ask(
        prompt_name=name, alerted_version=alerted, rollback_to=rollback_to, forced=forced, dry_run=dry_run
    )


def rolled_back(frm: int, to: int, ago: timedelta) -> PastDecision:
    return PastDecision(Outcome.ROLLED_BACK, NOW - ago, frm, to, to)


def observed(production: int, ago: timedelta) -> PastDecision:
    return PastDecision(Outcome.SKIPPED, NOW - ago, production, None, production)


def test_explicit_rollback_to_is_used_when_it_exists():
    decision = decide(ask(rollback_to=5), state(7, 5, 6, 7), [], PolicyConfig(), NOW)
    assert decision.outcome is Outcome.ROLLED_BACK
    assert (decision.from_version, decision.to_version) == (7, 5)
    assert decision.basis == "rollback_to requested"


def test_an_alert_naming_a_missing_rollback_to_falls_back_to_the_normal_choice():
    # Skipping would leave the bad version live: the alert's rollback_to is a hint, not an order.
    decision = decide(ask(rollback_to=99), state(7, 5, 6, 7), [], PolicyConfig(), NOW)
    assert decision.outcome is Outcome.ROLLED_BACK
    assert (decision.from_version, decision.to_version) == (7, 6)
    assert decision.basis == (GUESS + "; rollback_to v99 ignored: it does not exist")


def test_a_forced_rollback_to_a_missing_version_is_refused_not_guessed():
    # A person named that version and is there to hear about the typo: do not pick another.
    decision = decide(
        ask(alerted=None, rollback_to=99, forced=True), state(7, 5, 6, 7), [], PolicyConfig(), NOW
    )
    assert decision.outcome is Outcome.SKIPPED
    assert decision.reason == "rollback_to v99 does not exist"


def test_an_alert_naming_the_production_version_as_rollback_to_falls_back():
    decision = decide(ask(rollback_to=7), state(7, 5, 6, 7), [], PolicyConfig(), NOW)
    assert (decision.outcome, decision.to_version) == (Outcome.ROLLED_BACK, 6)
    assert decision.basis.endswith("rollback_to v7 ignored: it is the version in production")


def test_a_rollback_to_above_production_never_rolls_forward():
    decision = decide(ask(rollback_to=9), state(7, 5, 6, 7, 8, 9), [], PolicyConfig(), NOW)
    assert decision.outcome is Outcome.ROLLED_BACK
    assert (decision.from_version, decision.to_version) == (7, 6)
    assert decision.basis == (
        GUESS + "; rollback_to v9 ignored: it is newer than production v7 (a rollback never moves forward)"
    )


def test_a_forced_rollback_forward_needs_allow_forward():
    forced = ask(alerted=None, rollback_to=9, forced=True)
    refused = decide(forced, state(7, 5, 6, 7, 8, 9), [], PolicyConfig(), NOW)
    assert refused.outcome is Outcome.SKIPPED
    assert refused.reason == (
        "rollback_to v9 is newer than production v7 (a rollback never moves forward); allow_forward to insist"
    )
    allowed = decide(replace(forced, allow_forward=True), state(7, 5, 6, 7, 8, 9), [], PolicyConfig(), NOW)
    assert (allowed.outcome, allowed.from_version, allowed.to_version) == (Outcome.ROLLED_BACK, 7, 9)
    assert allowed.basis == "rollback_to requested; moves forward (allow_forward)"


def test_allow_forward_means_nothing_without_a_forced_request():
    automatic = replace(ask(rollback_to=9), allow_forward=True)
    decision = decide(automatic, state(7, 5, 6, 7, 8, 9), [], PolicyConfig(), NOW)
    assert decision.to_version == 6


def test_the_automatic_choice_never_picks_a_newer_version_either():
    # Someone moved production down from v9 to v7 by hand; the ledger remembers v9 in production.
    history = [observed(9, timedelta(days=1))]
    assert choose_target(7, None, state(7, 5, 6, 7, 9), history) == (
        6,
        GUESS,
    )
    registry = RegistryState(
        production_version=7, versions=frozenset({5, 6, 7, 9}), previous_production=(9, 5)
    )
    assert choose_target(7, None, registry, []) == (5, "held production before (registry history)")


def test_no_fallback_says_why_the_rollback_to_was_ignored_too():
    decision = decide(ask(alerted=1, rollback_to=3), state(1, 1), [], PolicyConfig(), NOW)
    assert decision.outcome is Outcome.SKIPPED
    assert decision.reason == (
        "no known-good version to go back to from v1; rollback_to v3 ignored: it does not exist"
    )


def test_previous_production_from_the_ledger_beats_version_minus_one():
    # v6 was a bad version we rolled back from; v5 held production before v7 was promoted.
    history = [rolled_back(6, 5, timedelta(days=3))]
    decision = decide(ask(), state(7, 4, 5, 6, 7), history, PolicyConfig(), NOW)
    assert decision.to_version == 5
    assert "held production before" in decision.basis


def test_observed_production_is_remembered_as_previous_production():
    history = [observed(4, timedelta(days=2))]
    decision = decide(ask(), state(7, 3, 4, 5, 6, 7), history, PolicyConfig(), NOW)
    assert decision.to_version == 4


def test_without_history_the_highest_lower_existing_version_is_chosen():
    # Versions 5 and 6 were deleted: v4 is the highest that still exists.
    decision = decide(ask(), state(7, 1, 2, 4, 7), [], PolicyConfig(), NOW)
    assert decision.to_version == 4
    assert decision.basis == GUESS


def test_versions_that_were_rolled_back_are_never_chosen_again():
    history = [rolled_back(6, 5, timedelta(days=5)), rolled_back(5, 4, timedelta(days=4))]
    target = choose_target(7, None, state(7, 3, 4, 5, 6, 7), history)
    assert target == (4, "held production before (audit ledger, 2026-04-13 14:30Z)")


def test_no_known_good_version_is_a_skip_with_reason():
    decision = decide(ask(alerted=1), state(1, 1), [], PolicyConfig(), NOW)
    assert decision.outcome is Outcome.SKIPPED
    assert decision.reason == "no known-good version to go back to from v1"


def test_stale_alert_is_skipped_as_already_moved_and_not_announced():
    decision = decide(ask(alerted=7), state(6, 5, 6, 7), [], PolicyConfig(), NOW)
    assert decision.outcome is Outcome.SKIPPED
    assert decision.reason.startswith("already moved: production is v6")
    assert decision.notify is False


def test_unknown_prompt_and_missing_production_label_are_skipped():
    assert (
        decide(ask(), state(None), [], PolicyConfig(), NOW).reason == "prompt does not exist in the registry"
    )
    assert decide(ask(), state(None, 6, 7), [], PolicyConfig(), NOW).reason == (
        "no version carries the production label"
    )


def test_allow_list_limits_automatic_rollbacks_but_not_forced_ones():
    config = PolicyConfig(allowed_prompts=["support-*"])
    assert decide(ask(name="billing"), state(7, 6, 7), [], config, NOW).outcome is Outcome.SKIPPED
    assert decide(ask(name="support-answer"), state(7, 6, 7), [], config, NOW).outcome is Outcome.ROLLED_BACK
    forced = decide(ask(name="billing", alerted=None, forced=True), state(7, 6, 7), [], config, NOW)
    assert forced.outcome is Outcome.ROLLED_BACK


def test_cooldown_blocks_a_second_automatic_rollback_too_soon():
    history = [rolled_back(8, 7, timedelta(minutes=10))]
    decision = decide(ask(), state(7, 6, 7, 8), history, PolicyConfig(cooldown_minutes=30), NOW)
    assert decision.outcome is Outcome.SKIPPED
    assert decision.reason.startswith("cooldown:")
    later = decide(ask(), state(7, 6, 7, 8), history, PolicyConfig(cooldown_minutes=5), NOW)
    assert later.outcome is Outcome.ROLLED_BACK


def test_daily_limit_counts_only_the_last_24_hours():
    history = [
        rolled_back(9, 8, timedelta(hours=2)),
        rolled_back(8, 7, timedelta(hours=5)),
        rolled_back(10, 9, timedelta(hours=30)),
    ]
    config = PolicyConfig(cooldown_minutes=0, max_rollbacks_per_day=2)
    decision = decide(ask(), state(7, 5, 6, 7), history, config, NOW)
    assert decision.reason == "daily limit: 2 rollbacks in 24 h, maximum 2"
    assert (
        decide(
            ask(), state(7, 5, 6, 7), history, config.model_copy(update={"max_rollbacks_per_day": 3}), NOW
        ).outcome
        is Outcome.ROLLED_BACK
    )


def test_forced_rollback_ignores_cooldown_and_daily_limit():
    history = [rolled_back(8, 7, timedelta(minutes=1))]
    config = PolicyConfig(cooldown_minutes=60, max_rollbacks_per_day=1)
    decision = decide(ask(alerted=None, rollback_to=6, forced=True), state(7, 6, 7, 8), history, config, NOW)
    assert decision.outcome is Outcome.ROLLED_BACK
    assert decision.to_version == 6


def test_dry_run_per_prompt_decides_without_acting():
    config = PolicyConfig(prompts={"financial-*": {"dry_run": True}})  # type: ignore[dict-item]
    dry = decide(ask(name="financial-analysis"), state(7, 6, 7), [], config, NOW)
    assert (dry.outcome, dry.to_version, dry.acts) == (Outcome.DRY_RUN, 6, False)
    wet = decide(ask(name="support-answer"), state(7, 6, 7), [], config, NOW)
    assert wet.outcome is Outcome.ROLLED_BACK


def test_forced_rollback_acts_even_in_a_dry_run_deployment_unless_asked_not_to():
    config = PolicyConfig(dry_run=True)
    assert (
        decide(ask(alerted=None, forced=True), state(7, 6, 7), [], config, NOW).outcome is Outcome.ROLLED_BACK
    )
    assert (
        decide(ask(alerted=None, forced=True, dry_run=True), state(7, 6, 7), [], config, NOW).outcome
        is Outcome.DRY_RUN
    )


def test_explicit_target_that_was_rolled_back_is_honoured_only_when_forced():
    history = [rolled_back(6, 5, timedelta(days=1))]
    automatic = decide(ask(rollback_to=6), state(7, 5, 6, 7), history, PolicyConfig(), NOW)
    # Not a skip (that would leave v7 live): the normal choice, which avoids v6, and why.
    assert (automatic.outcome, automatic.to_version) == (Outcome.ROLLED_BACK, 5)
    assert automatic.basis.endswith("; rollback_to v6 ignored: it was itself rolled back before")
    forced = decide(
        ask(alerted=None, rollback_to=6, forced=True), state(7, 5, 6, 7), history, PolicyConfig(), NOW
    )
    assert forced.to_version == 6


@pytest.mark.parametrize(
    "bad",
    [
        {"cooldown_minutes": -1},
        {"max_rollbacks_per_day": -2},
        {"unknown": 1},
        {"prompts": {"x": {"dry_run": "maybe"}}},
    ],
)
def test_bad_policy_configuration_is_rejected(bad):
    with pytest.raises(ValidationError):
        PolicyConfig.model_validate(bad)


def test_first_matching_prompt_override_wins():
    config = PolicyConfig.model_validate(
        {
            "cooldown_minutes": 30,
            "prompts": {"fin-*": {"cooldown_minutes": 120}, "*": {"cooldown_minutes": 1}},
        }
    )
    assert config.guards_for("fin-report").cooldown == timedelta(minutes=120)
    assert config.guards_for("support").cooldown == timedelta(minutes=1)


def test_registry_history_comes_before_the_ledger():
    registry = RegistryState(
        production_version=7, versions=frozenset({3, 4, 5, 6, 7}), previous_production=(4, 6)
    )
    history = [observed(5, timedelta(days=1))]
    assert choose_target(7, None, registry, history) == (4, "held production before (registry history)")
    history_bad = [rolled_back(4, 3, timedelta(days=2))]
    assert choose_target(7, None, registry, history_bad)[0] == 6


# --- the change history as the policy's input -----------------------------------------------------


def test_target_is_the_version_that_really_held_production_before_from_the_change_history():
    from prompt_rollback.domain.policy import PastChange, choose_target

    now = datetime(2026, 4, 17, 15, 0, tzinfo=UTC)
    # v4 was promoted by hand and replaced by v6 without any alert: our own ledger never saw v4.
    changes = [
        PastChange(now - timedelta(minutes=30), 4, 6, "bob@example.com"),
        PastChange(now - timedelta(days=2), 3, 4, "alice@example.com"),
    ]
    state = RegistryState(production_version=6, versions=frozenset({1, 2, 3, 4, 5, 6}))
    target = choose_target(6, None, state, [], changes=changes)
    assert isinstance(target, tuple) and target[0] == 4
    assert "bob@example.com" in target[1]
    # Without the history it is a guess: the highest lower version.
    assert choose_target(6, None, state, []) == (5, GUESS)


def test_change_history_walks_back_past_a_version_we_rolled_away_from():
    from prompt_rollback.domain.policy import PastChange, choose_target

    now = datetime(2026, 4, 17, 15, 0, tzinfo=UTC)
    # v2 -> v5 (carol), our rollback v5 -> v2, v2 -> v5 again (dave), v5 -> v6 (bob). v6 is bad;
    # v5 held production before it, but we once rolled away from v5: go further back, to v2.
    changes = [
        PastChange(now - timedelta(hours=1), 5, 6, "bob"),
        PastChange(now - timedelta(hours=2), 2, 5, "dave"),
        PastChange(now - timedelta(hours=4), 2, 5, "carol"),
    ]
    rolled = PastDecision(Outcome.ROLLED_BACK, now - timedelta(hours=3), 5, 2, 2)
    state = RegistryState(production_version=6, versions=frozenset({1, 2, 3, 4, 5, 6}))
    target = choose_target(6, None, state, [rolled], changes=changes)
    assert isinstance(target, tuple) and target[0] == 2


def test_a_persons_recent_move_is_announced_with_who_instead_of_an_echo():
    from prompt_rollback.domain.policy import PastChange

    now = datetime(2026, 4, 17, 15, 0, tzinfo=UTC)
    state = RegistryState(production_version=4, versions=frozenset({1, 2, 3, 4, 5, 6, 7}))
    ask = Ask(prompt_name="p", alerted_version=7, rollback_to=None, forced=False, dry_run=None)
    recent = [PastChange(now - timedelta(minutes=2), 7, 4, "alice@example.com")]
    decision = decide(ask, state, [], PolicyConfig(allowed_prompts=["*"]), now, changes=recent)
    assert decision.outcome is Outcome.SKIPPED and decision.notify
    assert "alice@example.com moved production to v4" in decision.reason
    old = [PastChange(now - timedelta(days=1), 7, 4, "alice@example.com")]
    assert not decide(ask, state, [], PolicyConfig(allowed_prompts=["*"]), now, changes=old).notify


def test_with_the_previous_production_unknown_the_decision_says_so_rather_than_guessing_quietly():
    decision = decide(ask(alerted=7), state(7, 5, 6, 7), [], PolicyConfig(dry_run=False), NOW)
    assert (decision.outcome, decision.to_version) == (Outcome.ROLLED_BACK, 6)
    assert decision.basis.startswith("previous production unknown")
    assert "prompt-rollback adopt" in decision.basis
