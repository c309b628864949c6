"""Langfuse events -> production changes: one record per move, whatever the order or duplicates."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from prompt_rollback.domain.audit import iso_utc
from prompt_rollback.domain.changes import UNKNOWN, Ignored, ProductionChange, langfuse_change, ledger_view
from prompt_rollback.domain.langfuse_events import PromptVersionEvent

from tests.langfuse_webhooks import prompt_event

T0 = datetime(2026, 4, 17, 14, 5, tzinfo=UTC)
ALICE = {"name": "Alice Ops", "email": "alice@example.com"}


def event(
    event_id: str, version: int, labels: list[str], action: str = "updated", **kw: Any
) -> PromptVersionEvent:
    return PromptVersionEvent.model_validate(
        prompt_event(
            event_id, "financial-analysis", version, labels, action=action, changed_at=T0, user=ALICE, **kw
        )
    )


def known_production(version: int) -> list[dict[str, Any]]:
    """A ledger whose newest word is a decision that observed `version` in production."""
    return [
        {
            "kind": "decision",
            "outcome": "skipped",
            "request_id": "rb-old",
            "observed_production": version,
            "recorded_at": iso_utc(T0 - timedelta(days=1)),
        }
    ]


def feed(events: list[PromptVersionEvent], records: list[dict[str, Any]], now_production: Any = UNKNOWN):
    """Process events one by one as the recorder does; return the change records appended."""
    appended: list[ProductionChange] = []
    for e in events:
        outcome = langfuse_change(e, ledger_view(records), now_production)
        if isinstance(outcome, ProductionChange):
            appended.append(outcome)
            records.insert(0, outcome.fields(T0 + timedelta(seconds=len(records))))
    return appended


GAIN = event("evt_gain", 7, ["production", "latest"])
LOSE = event("evt_lose", 6, ["staging"])


def test_move_recorded_once_with_who_when_and_event_id_gainer_first():
    [change] = feed([GAIN, LOSE], known_production(6))
    assert (change.change, change.from_version, change.to_version) == ("moved", 6, 7)
    assert change.actor == "alice@example.com"
    assert change.changed_at == T0
    assert change.source_event_ids == ("evt_gain",)
    assert change.prompt_key == "langfuse#financial-analysis"


def test_move_recorded_once_loser_first():
    [change] = feed([LOSE, GAIN], known_production(6))
    assert (change.from_version, change.to_version) == (6, 7)


def test_every_order_with_four_attempts_each_records_exactly_one_move():
    deliveries = [GAIN] * 4 + [LOSE] * 4
    for seed in range(25):
        random.Random(seed).shuffle(deliveries)
        changes = feed(list(deliveries), known_production(6))
        assert [(c.from_version, c.to_version) for c in changes] == [(6, 7)], seed


def test_loser_first_with_the_registry_saying_where_it_went_records_the_move_then_ignores_the_gainer():
    records = known_production(6)
    [change] = feed([LOSE], records, now_production=7)
    assert (change.from_version, change.to_version, change.source_event_ids) == (6, 7, ("evt_lose",))
    assert feed([GAIN, LOSE], records, now_production=7) == []


def test_label_removed_without_a_new_holder_is_recorded_as_removed():
    [change] = feed([LOSE], known_production(6), now_production=None)
    assert (change.change, change.from_version, change.to_version) == ("removed", 6, None)


def test_a_late_retry_of_an_old_move_does_not_move_production_back_on_the_record():
    records = known_production(6)
    feed([GAIN], records)
    back = event("evt_back", 6, ["production"])
    feed([back], records)
    assert ledger_view(records).production == 6
    assert feed([GAIN], records) == []  # evt_gain again, after 7 -> 6
    assert ledger_view(records).production == 6


def test_our_own_rollback_is_not_recorded_while_its_intent_is_open_or_after_its_decision():
    intent = {
        "kind": "intent",
        "request_id": "rb-1",
        "from_version": 7,
        "to_version": 6,
        "recorded_at": iso_utc(T0),
    }
    records = [intent, *known_production(7)]
    ours = [event("evt_a", 6, ["production"]), event("evt_b", 7, ["latest"])]
    for order in itertools.permutations(ours):
        assert feed(list(order), list(records)) == []
    decision = {**intent, "kind": "decision", "outcome": "rolled_back", "recorded_at": iso_utc(T0)}
    assert feed(ours, [decision, *records]) == []


def test_a_person_moving_production_while_our_intent_is_open_is_recorded():
    intent = {
        "kind": "intent",
        "request_id": "rb-1",
        "from_version": 7,
        "to_version": 6,
        "recorded_at": iso_utc(T0),
    }
    [change] = feed(
        [event("evt_p", 8, ["production"]), event("evt_q", 7, [])], [intent, *known_production(7)]
    )
    assert (change.from_version, change.to_version, change.actor) == (7, 8, "alice@example.com")


def test_a_version_created_with_production_and_a_deleted_version_are_recorded():
    records = known_production(6)
    created = event("evt_new", 8, ["production", "latest"], action="created", commit_message="new tone")
    [change] = feed([created, created], records)
    assert (change.change, change.from_version, change.to_version, change.reason) == (
        "created_in_production",
        6,
        8,
        "v8 commit message: new tone",
    )
    deleted = event("evt_del", 3, ["staging"], action="deleted")
    [gone] = feed([deleted, deleted], records)
    assert (gone.change, gone.version, gone.from_version, gone.to_version) == (
        "version_deleted",
        3,
        None,
        None,
    )
    assert ledger_view(records).production == 8


def test_edits_to_other_versions_and_to_the_production_version_itself_are_not_changes():
    records = known_production(6)
    assert (
        feed([event("evt_tag", 3, ["staging"]), event("evt_tag2", 6, ["production", "reviewed"])], records)
        == []
    )
    assert isinstance(
        langfuse_change(event("evt_new", 9, [], action="created"), ledger_view(records)), Ignored
    )


def test_first_events_for_an_unknown_prompt_record_the_move_from_the_losing_version():
    # The losing version's event is the only word on where production came from.
    left, moved = feed([LOSE, GAIN], [])
    assert (left.change, left.from_version, left.source_event_ids) == ("left", 6, ("evt_lose",))
    assert (moved.change, moved.from_version, moved.to_version) == ("moved", 6, 7)


def test_a_label_added_to_a_newer_version_right_after_a_prompt_is_created_is_not_a_move():
    # A prompt created with production, then at once a newer version labelled `canary`: that
    # version did not exist when production was created, so it cannot be the one that lost it.
    records: list[dict[str, Any]] = []
    [created] = feed([event("evt_v1", 1, ["production", "latest"], action="created")], records)
    assert (created.change, created.to_version) == ("created_in_production", 1)
    assert feed([event("evt_v2", 2, ["latest", "canary", "canary-5"])], records) == []
    assert ledger_view(records).production == 1


def test_untrusted_text_is_cut_so_the_record_fits():
    long = event("evt_long", 7, ["production"], commit_message="x" * 100_000)
    fields = langfuse_change(long, ledger_view([])).fields(T0)  # type: ignore[union-attr]
    assert len(fields["reason"]) <= 500
