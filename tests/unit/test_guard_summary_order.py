"""The guard summary on the chain's head tells people's moves as production_order does, whatever
order Langfuse's events arrive in, and the change recorder decides on it rather than on the
newest records: a flood of records between two events changes nothing."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from prompt_rollback.changes.recorder import ChangeRecorder
from prompt_rollback.domain.changes import ProductionChange, ledger_view, observed_change, summary_view
from prompt_rollback.domain.guard_summary import PENDING_LEFTS, GuardSummary, summarize
from prompt_rollback.domain.langfuse_events import PromptVersionEvent
from prompt_rollback.domain.policy_config import PolicyConfig
from prompt_rollback.domain.production_order import past_moves, previous_production
from prompt_rollback.rollback.attempts import run_attempt
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.service import RollbackService

from tests.langfuse_webhooks import prompt_event
from tests.unit.fakes import Clock, InMemoryLedger, InMemoryNotifier, InMemoryRegistry
from tests.unit.test_production_change_order import NAME, T0, event, feed, holder
from tests.unit.test_rollback_service import FIRST, request

KEY = f"langfuse#{NAME}"


def folded(records_newest_first: list[dict[str, Any]]) -> GuardSummary:
    """The summary as the ledger folds it, record by record in append order."""
    oldest_first = reversed(records_newest_first)
    return summarize({**r, "seq": seq} for seq, r in enumerate(oldest_first, start=1))


def told(moves: Any) -> list[tuple[datetime, int | None, int | None, str]]:
    return [(m.changed_at, m.from_version, m.to_version, m.actor) for m in moves]


def test_two_quick_moves_in_any_arrival_order_are_told_as_production_order_tells_them():
    t1, t2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    first = [event("evt_g4", 4, ["production"], t1), event("evt_l3", 3, [], t1)]
    second = [event("evt_g5", 5, ["production"], t2), event("evt_l4", 4, [], t2)]
    for order in itertools.permutations([*second, *first]):
        records = [holder(3, T0)]
        feed(list(order), records, received=t2 + timedelta(seconds=5))
        summary = folded(records)
        assert [(c.from_version, c.to_version) for c in summary.changes] == [(4, 5), (3, 4)], order
        assert told(summary.changes) == told(past_moves(records)), order
        assert [c.changed_at for c in summary.changes] == [t2, t1]  # placed time, not append order
        assert summary.previous_production(5) == previous_production(records, 5) == 4


def test_the_first_move_takes_its_from_from_the_losing_half_whichever_half_comes_first():
    t = T0 + timedelta(minutes=1)
    halves = [event("evt_g7", 7, ["production"], t), event("evt_l6", 6, ["staging"], t)]
    for order in itertools.permutations(halves):
        records: list[dict[str, Any]] = []
        feed(list(order), records)
        summary = folded(records)
        assert [(c.from_version, c.to_version) for c in summary.changes] == [(6, 7)], order
        assert summary.pending_lefts == ()  # matched: nothing left waiting
        assert summary.previous_production(7) == 6


def test_a_delete_says_nothing_about_production_and_a_clock_far_ahead_is_capped():
    t = T0 + timedelta(minutes=10)
    ahead = T0 + timedelta(days=365)
    records = [holder(3, T0)]
    feed([event("evt_ahead", 4, ["production"], ahead)], records, received=T0 + timedelta(minutes=1))
    feed([event("evt_del1", 1, [], t, action="deleted")], records)
    feed([event("evt_g2", 2, ["production"], t), event("evt_l4", 4, [], t)], records)
    summary = folded(records)
    assert [(c.from_version, c.to_version) for c in summary.changes] == [(4, 2), (3, 4)]
    assert summary.changes[1].changed_at == T0 + timedelta(minutes=6)  # received + 5 min, not a year on
    assert told(summary.changes) == told(past_moves(records))


def test_production_first_seen_makes_the_next_moves_from_known():
    records: list[dict[str, Any]] = []
    seen = observed_change(ledger_view(records), "langfuse", NAME, 6, "jane (adopt)", T0)
    assert isinstance(seen, ProductionChange)
    records.insert(0, seen.fields(T0))
    feed([event("evt_g7", 7, ["production"], T0 + timedelta(hours=1))], records)
    summary = folded(records)
    assert [(c.from_version, c.to_version, c.actor) for c in summary.changes] == [
        (6, 7, "bob@example.com"),
        (None, 6, "jane (adopt)"),
    ]
    assert summary.previous_production(7) == 6


def test_losing_halves_that_never_meet_their_gainer_are_kept_bounded():
    records = [holder(3, T0)]
    for n in range(3 * PENDING_LEFTS):
        at = T0 + timedelta(minutes=n + 1)
        outcome = feed([event(f"evt_l{n}", 3, [], at)], [])  # each the only word on an empty chain
        records.insert(0, outcome[0].fields(at))
    assert len(folded(records).pending_lefts) == PENDING_LEFTS


def test_the_recorder_in_any_arrival_order_leaves_the_same_moves_on_the_head():
    t1, t2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    halves = [
        event("evt_g4", 4, ["production"], t1),
        event("evt_l3", 3, [], t1),
        event("evt_g5", 5, ["production"], t2),
        event("evt_l4", 4, [], t2),
    ]
    for order in itertools.permutations(halves):
        ledger, clock = InMemoryLedger(), Clock()
        clock.now = T0
        recorder = ChangeRecorder(ledger, clock=clock)
        recorder.observe("langfuse", NAME, 3, "adopt")
        clock.now = t2 + timedelta(seconds=5)
        for e in order:
            recorder.record_langfuse(e)
        summary = ledger.head(KEY).guards
        assert [(c.from_version, c.to_version) for c in summary.changes] == [(4, 5), (3, 4), (None, 3)], order
        assert summary_view(summary).production == 5
        records = list(reversed(list(ledger.chain(KEY))))
        assert told(summary.changes) == told(past_moves(records)), order


def test_a_redelivered_event_after_a_flood_of_skipped_alerts_is_still_known():
    registry, ledger, clock = InMemoryRegistry(), InMemoryLedger(), Clock()
    registry.versions, registry.production = frozenset(range(2, 8)), 7
    journal = Journal(lambda provider: registry, ledger, InMemoryNotifier(), PolicyConfig(), "test", clock)
    recorder = ChangeRecorder(ledger, clock=clock)
    body = prompt_event("evt_del1", "support-answer", 1, [], action="deleted", changed_at=clock.now)
    delete = PromptVersionEvent.model_validate(body)
    assert recorder.record_langfuse(delete).status == "recorded"
    for flap in range(100):  # an alert on a version no longer live, skipped as "already moved"
        clock.now += timedelta(seconds=1)
        run_attempt(RollbackService(journal), request(f"rb-flap-{flap}", alerted_version=4), FIRST)
    again = recorder.record_langfuse(delete)  # Langfuse did not hear our first answer
    assert (again.status, again.detail) == ("ignored", "event evt_del1 already recorded")
