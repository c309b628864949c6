"""Langfuse events in any order, beside unrelated events and clocks far off: the same history."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from prompt_rollback.domain.audit import iso_utc
from prompt_rollback.domain.changes import (
    UNKNOWN,
    Ignored,
    ProductionChange,
    langfuse_change,
    ledger_view,
    observed_change,
)
from prompt_rollback.domain.langfuse_events import PromptVersionEvent
from prompt_rollback.domain.production_order import past_moves, previous_production
from prompt_rollback.domain.timeline import tenures

from tests.langfuse_webhooks import prompt_event

T0 = datetime(2026, 4, 17, 14, 5, tzinfo=UTC)
BOB = {"name": "Bob", "email": "bob@example.com"}
NAME = "financial-analysis"


def event(event_id: str, version: int, labels: list[str], at: datetime, action: str = "updated") -> Any:
    body = prompt_event(event_id, NAME, version, labels, action=action, changed_at=at, user=BOB)
    if action == "deleted":  # a delete is dated by the delivery's timestamp: later than the move
        body["timestamp"] = iso_utc(at)
    return PromptVersionEvent.model_validate(body)


def holder(version: int, at: datetime) -> dict[str, Any]:
    """A ledger whose word on production is a decision that observed `version`."""
    return {
        "kind": "decision",
        "outcome": "skipped",
        "request_id": f"rb-seen-{version}",
        "observed_production": version,
        "recorded_at": iso_utc(at),
    }


def feed(
    events: list[PromptVersionEvent],
    records: list[dict[str, Any]],
    received: datetime | None = None,
    now_production: Any = UNKNOWN,
) -> list[ProductionChange]:
    """Deliver events one by one as the recorder does, each received at `received` (default: a
    minute after its own time); return the change records appended."""
    appended = []
    for e in events:
        at = received or e.changed_at + timedelta(minutes=1)
        outcome = langfuse_change(e, ledger_view(records), now_production, received_at=at)
        if isinstance(outcome, ProductionChange):
            appended.append(outcome)
            records.insert(0, outcome.fields(at))
    return appended


def production_tenures(records: list[dict[str, Any]]) -> list[tuple[int | None, datetime]]:
    return [(t.version, t.since) for t in tenures(records)]


def test_a_delete_of_an_old_version_arriving_first_does_not_hide_a_real_move():
    t = T0 + timedelta(minutes=10)
    move = [event("evt_gain2", 2, ["production"], t), event("evt_lose3", 3, [], t)]
    delete = event("evt_del1", 1, [], t + timedelta(seconds=30), action="deleted")
    for halves in itertools.permutations(move):
        records = [holder(3, T0)]
        changes = feed([delete, *halves], records)
        assert ledger_view(records).production == 2
        assert [(c.change, c.from_version, c.to_version) for c in changes if c.change == "moved"] == [
            ("moved", 3, 2)
        ]
        assert production_tenures(records)[-1] == (2, t)


def test_two_quick_moves_arriving_newest_first_keep_the_middle_versions_time_in_production():
    t1, t2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    first = [event("evt_g4", 4, ["production"], t1), event("evt_l3", 3, [], t1)]
    second = [event("evt_g5", 5, ["production"], t2), event("evt_l4", 4, [], t2)]
    received = t2 + timedelta(seconds=5)
    for order in itertools.permutations([*second, *first]):
        records = [holder(3, T0)]
        feed(list(order), records, received=received)
        assert ledger_view(records).production == 5, order
        assert production_tenures(records)[-2:] == [(4, t1), (5, t2)], order
        moves = past_moves(records)
        assert [(m.from_version, m.to_version) for m in moves] == [(4, 5), (3, 4)], order
        assert previous_production(records, 5) == 4


def test_an_event_dated_a_year_ahead_does_not_make_later_moves_be_ignored():
    records = [holder(3, T0)]
    ahead = T0 + timedelta(days=365)
    feed([event("evt_ahead", 4, ["production"], ahead)], records, received=T0 + timedelta(minutes=1))
    assert ledger_view(records).production == 4
    later = T0 + timedelta(minutes=10)
    [move] = feed([event("evt_real", 2, ["production"], later), event("evt_lose4", 4, [], later)], records)
    assert (move.from_version, move.to_version) == (4, 2)
    assert ledger_view(records).production == 2
    assert production_tenures(records)[-1] == (2, later)


def test_the_first_change_a_chain_records_takes_its_from_version_from_the_losing_event_in_either_order():
    t = T0 + timedelta(minutes=1)
    halves = [event("evt_g7", 7, ["production", "latest"], t), event("evt_l6", 6, ["staging"], t)]
    for order in itertools.permutations(halves):
        records: list[dict[str, Any]] = []
        feed(list(order), records)
        assert ledger_view(records).production == 7
        assert [(m.from_version, m.to_version) for m in past_moves(records)] == [(6, 7)]
        assert previous_production(records, 7) == 6


def test_production_first_seen_is_recorded_once_and_makes_the_previous_production_known():
    records: list[dict[str, Any]] = []
    seen = observed_change(ledger_view(records), "langfuse", NAME, 6, "jane (adopt)", T0)
    assert isinstance(seen, ProductionChange)
    assert (seen.change, seen.from_version, seen.to_version) == ("observed", None, 6)
    records.insert(0, seen.fields(T0))
    assert isinstance(observed_change(ledger_view(records), "langfuse", NAME, 6, "again", T0), Ignored)
    t = T0 + timedelta(hours=1)
    feed([event("evt_g7", 7, ["production"], t)], records)
    assert previous_production(records, 7) == 6
    assert production_tenures(records) == [(6, T0), (7, t)]


def test_with_nothing_on_record_the_previous_production_is_unknown():
    records: list[dict[str, Any]] = []
    feed([event("evt_g7", 7, ["production"], T0)], records)
    assert previous_production(records, 7) is None
