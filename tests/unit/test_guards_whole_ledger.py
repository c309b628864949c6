"""The guards read the whole ledger, not its newest records: a flood of skips or refusals cannot
push a rollback, a person's move or a rolled-back version out of what a decision sees."""

from __future__ import annotations

import json
from datetime import timedelta

from prompt_rollback.domain.audit import iso_utc, verify_chain
from prompt_rollback.domain.changes import ProductionChange
from prompt_rollback.domain.guard_summary import GuardSummary, summarize
from prompt_rollback.domain.request_index import KEEP_LISTED
from prompt_rollback.rollback.attempts import run_attempt

from tests.unit.fakes import NOW
from tests.unit.test_rollback_service import FIRST, request

KEY = "langfuse#support-answer"


def a_person_moved(ledger, from_version: int, to_version: int, at, actor: str = "alice") -> None:
    """The change record the Langfuse webhook writes when a person moves the label."""
    head = ledger.recent(KEY, 1)
    change = ProductionChange(
        prompt_key=KEY,
        prompt_name="support-answer",
        provider="langfuse",
        change="moved",
        from_version=from_version,
        to_version=to_version,
        actor=actor,
        changed_at=at,
        source="langfuse-webhook",
        source_event_ids=(f"ev-{to_version}-{iso_utc(at)}",),
        version=to_version,
        recorded_at=iso_utc(at),
    )
    ledger.append(change, head[0] if head else None)


def test_a_hundred_already_moved_skips_never_bring_back_the_version_we_rolled_back_from(
    service, registry, ledger, clock
):
    registry.versions, registry.production = frozenset({1, 2, 3, 4, 5}), 4
    assert run_attempt(service, request("rb-v4", alerted_version=4), FIRST).to_version == 3
    clock.now += timedelta(minutes=1)
    registry.production = 5
    a_person_moved(ledger, 3, 5, clock.now)
    for flap in range(100):
        skipped = run_attempt(service, request(f"rb-flap-{flap}", alerted_version=4), FIRST)
        assert skipped.reason.startswith("already moved")
    clock.now += timedelta(minutes=1)

    soon = run_attempt(service, request("rb-v5", alerted_version=5), FIRST)
    assert (soon.outcome, registry.production) == ("skipped", 5)
    assert soon.reason.startswith("cooldown")

    clock.now += timedelta(minutes=31)
    later = run_attempt(service, request("rb-v5-later", alerted_version=5), FIRST)
    assert (later.outcome, later.to_version, registry.production) == ("rolled_back", 3, 3)
    assert registry.moves == [3, 3]  # never v4, the version we rolled back from


def test_a_hundred_skips_do_not_lift_the_daily_limit(service, registry, ledger, clock):
    registry.versions, registry.production = frozenset(range(1, 10)), 9
    for alerted in (9, 8, 7):
        assert run_attempt(service, request(f"rb-v{alerted}", alerted_version=alerted), FIRST).outcome == (
            "rolled_back"
        )
        clock.now += timedelta(minutes=31)
    for flap in range(100):
        run_attempt(service, request(f"rb-flap-{flap}", alerted_version=9), FIRST)
    fourth = run_attempt(service, request("rb-v6", alerted_version=6), FIRST)
    assert fourth.outcome == "skipped" and fourth.reason.startswith("daily limit: 3 rollbacks")
    assert registry.production == 6


def test_the_second_alert_of_one_body_is_an_echo_of_our_rollback_audited_not_posted(
    service, registry, ledger, notifier, clock
):
    registry.versions, registry.production = frozenset({1, 2, 3}), 1
    a_person_moved(ledger, 1, 2, NOW - timedelta(minutes=5), actor="langfuse api key")
    a_person_moved(ledger, 2, 3, NOW - timedelta(minutes=3), actor="langfuse api key")
    registry.production = 3
    first = run_attempt(service, request("rb-exact-match", alerted_version=3), FIRST)
    assert (first.outcome, first.to_version) == ("rolled_back", 2)
    second = run_attempt(service, request("rb-latency", alerted_version=3), FIRST)
    assert second.outcome == "skipped" and second.reason.startswith("already moved")
    assert "langfuse api key" not in second.reason
    assert "rb-exact-match" in second.reason  # our own rollback moved it
    assert [n.rollback_id for n in notifier.notices] == ["rb-exact-match"]


def test_the_guard_summary_grows_with_moves_not_with_alerts(service, registry, ledger, clock):
    registry.versions, registry.production = frozenset({1, 2, 3, 4, 5}), 4
    run_attempt(service, request("rb-v4", alerted_version=4), FIRST)
    # The list of the newest requests' records fills once, to its bound, and then holds its size.
    for flap in range(KEEP_LISTED):
        clock.now += timedelta(minutes=1)
        run_attempt(service, request(f"rb-fill-{flap:02}", alerted_version=4), FIRST)
    after_one = len(json.dumps(ledger.items[KEY][-1]["guards"]))
    for flap in range(300):
        clock.now += timedelta(minutes=1)
        run_attempt(service, request(f"rb-flap-{flap}", alerted_version=4), FIRST)
    assert len(json.dumps(ledger.items[KEY][-1]["guards"])) < after_one + 200
    assert len(ledger.items[KEY][-1]["guards"]["requests"]) == KEEP_LISTED
    assert verify_chain(ledger.chain(KEY)) == []
    # A chain written before summaries were carried is summarized once, to the same answer.
    assert summarize(ledger.chain(KEY)) == GuardSummary.from_item(ledger.items[KEY][-1]["guards"])
