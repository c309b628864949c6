"""When the registry's list of versions is needed, and how the policy decides on production alone
(versions not listed, earlier holders known from the record): plain data in, no mocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prompt_rollback.domain.policy import (
    GUESSED_TARGET,
    Ask,
    Outcome,
    PastChange,
    PastDecision,
    RegistryState,
    assumed_production,
    decide,
    needs_version_list,
    recorded_before,
)
from prompt_rollback.domain.policy_config import PolicyConfig

NOW = datetime(2026, 4, 17, 14, 30, tzinfo=UTC)
ALICE_6_TO_7 = PastChange(NOW - timedelta(hours=2), 6, 7, "alice@example.com")


def ask(rollback_to: int | None = None, alerted: int = 7) -> Ask:
    return Ask("support-answer", alerted, rollback_to, forced=False, dry_run=None)


def rolled_back(frm: int, to: int, ago: timedelta) -> PastDecision:
    return PastDecision(Outcome.ROLLED_BACK, NOW - ago, frm, to, to)


def test_a_recorded_move_into_production_makes_the_list_unnecessary():
    assert needs_version_list(ask(), 7, [], [ALICE_6_TO_7]) is False
    # Our own rollback that put v7 there names v9 as its predecessor, but v9 is newer: never forward.
    assert needs_version_list(ask(), 7, [rolled_back(9, 7, timedelta(days=3))], []) is True


@pytest.mark.parametrize(
    ("why", "the_ask", "production", "history", "changes"),
    [
        ("an explicit rollback_to is checked against the list", ask(rollback_to=5), 7, [], [ALICE_6_TO_7]),
        ("nothing on record: the target is guessed from the list", ask(), 7, [], []),
        ("no production label: does the prompt exist at all?", ask(), None, [], [ALICE_6_TO_7]),
        (
            "the recorded predecessor was itself rolled back",
            ask(),
            7,
            [rolled_back(6, 5, timedelta(days=2))],
            [ALICE_6_TO_7],
        ),
        (
            "the record names only a move into another version",
            ask(),
            7,
            [],
            [PastChange(NOW - timedelta(hours=1), 4, 5, "bob")],
        ),
    ],
)
def test_every_other_ask_needs_the_list(why, the_ask, production, history, changes):
    assert needs_version_list(the_ask, production, history, changes) is True, why


def test_production_alone_decides_on_the_recorded_predecessor_and_says_so():
    changes = [ALICE_6_TO_7]
    state = RegistryState.production_only(7, recorded_before(7, [], changes))
    assert state.versions == frozenset()  # the registry was not asked: nothing is made up
    decision = decide(ask(), state, [], PolicyConfig(), NOW, changes=changes)
    assert decision.outcome is Outcome.ROLLED_BACK
    assert (decision.from_version, decision.to_version) == (7, 6)
    assert decision.basis.startswith("held production before v7 until ")
    assert "alice@example.com moved it" in decision.basis


def test_production_alone_follows_the_chain_past_a_rolled_back_predecessor():
    # v5 -> v6 by bob, v6 -> v7 by alice; v6 was once rolled back: the next holder back, v5.
    changes = [ALICE_6_TO_7, PastChange(NOW - timedelta(days=1), 5, 6, "bob")]
    history = [rolled_back(6, 5, timedelta(days=2))]
    assert needs_version_list(ask(), 7, history, changes) is False
    state = RegistryState.production_only(7, recorded_before(7, history, changes))
    decision = decide(ask(), state, history, PolicyConfig(), NOW, changes=changes)
    assert decision.to_version == 5
    assert GUESSED_TARGET not in decision.basis


def test_a_version_the_record_does_not_name_is_not_known_without_the_list():
    state = RegistryState.production_only(7, frozenset({6}))
    assert state.known(6) and not state.known(5)
    assert RegistryState(7, frozenset({5, 6, 7})).known(5)


def test_the_policy_refuses_to_guess_or_judge_a_rollback_to_without_the_list():
    state = RegistryState.production_only(7, frozenset())
    with pytest.raises(ValueError, match="needs the version list"):
        decide(ask(), state, [], PolicyConfig(), NOW)
    with pytest.raises(ValueError, match="list of versions"):
        decide(ask(rollback_to=5), RegistryState.production_only(7, frozenset({5})), [], PolicyConfig(), NOW)


def test_production_is_taken_from_the_alert_only_when_the_ledger_agrees_or_knows_nothing():
    assert assumed_production(ask(alerted=7), on_record=7) == 7
    assert assumed_production(ask(alerted=7), on_record=None) == 7
    # A re-sent alert after our rollback to v6: read first, and skip without taking the lock.
    assert assumed_production(ask(alerted=7), on_record=6) is None
    manual = Ask("support-answer", None, None, forced=True, dry_run=None)
    assert assumed_production(manual, on_record=7) is None  # nothing alerted: production is read
