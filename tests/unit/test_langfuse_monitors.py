"""Langfuse monitor alerts: which version (if any) held production for the monitor's whole window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prompt_rollback.domain.changes import UNKNOWN
from prompt_rollback.domain.intake import triage
from prompt_rollback.domain.langfuse_monitors import (
    MonitorAlertEvent,
    MonitorSkipped,
    ProductionMove,
    RollBackHeldVersion,
    as_alertmanager_body,
    decide,
    window_length,
)

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "langfuse" / "monitor-alert.json"
# The fixture's window: 13:35Z to 14:35Z on 2026-11-30.
WINDOW_START = datetime(2026, 11, 30, 13, 35, tzinfo=UTC)


def fixture(**payload: Any) -> MonitorAlertEvent:
    body = json.loads(FIXTURE.read_text())
    body["payload"].update(payload)
    return MonitorAlertEvent.model_validate(body)


def change(
    at: datetime, from_version: int | None, to_version: int | None, by: str = "alice"
) -> ProductionMove:
    return ProductionMove(at, from_version, to_version, by)


def test_the_fixture_parses_as_langfuse_sends_it():
    event = fixture()
    assert event.payload.severity == "ALERT"
    assert window_length(event.payload.window) == timedelta(hours=1)
    # Earlier servers sent the window as a bigint of milliseconds, stringified.
    assert window_length("3600000") == timedelta(hours=1)
    assert window_length("1y") is None and window_length("0") is None


def test_one_version_for_the_whole_window_is_rolled_back():
    moves = [change(WINDOW_START - timedelta(hours=3), 5, 6)]
    verdict = decide(fixture(), moves, production_now=6)
    assert verdict == RollBackHeldVersion(
        "support-answer", 6, WINDOW_START, WINDOW_START - timedelta(hours=3)
    )


def test_a_move_inside_the_window_is_skipped_with_when_and_what():
    moves = [
        change(datetime(2026, 11, 30, 14, 20, tzinfo=UTC), 6, 7),
        change(WINDOW_START - timedelta(days=1), 5, 6),
    ]
    verdict = decide(fixture(), moves, production_now=7)
    assert isinstance(verdict, MonitorSkipped)
    assert "production moved from v6 to v7 at 2026-11-30T14:20Z" in verdict.reason
    assert "inside the monitor's 1h window" in verdict.reason
    assert "not rolling back a version that was not live for the whole window" in verdict.reason


def test_our_own_rollback_inside_the_window_counts_as_a_move():
    moves = [
        change(datetime(2026, 11, 30, 14, 0, tzinfo=UTC), 7, 6, "prompt-rollback"),
        change(WINDOW_START - timedelta(days=1), 6, 7),
    ]
    verdict = decide(fixture(), moves, production_now=6)
    assert isinstance(verdict, MonitorSkipped)
    assert "from v7 to v6" in verdict.reason and "prompt-rollback" in verdict.reason


def test_no_change_record_at_all_is_skipped_with_what_to_do():
    verdict = decide(fixture(), [], production_now=6)
    assert isinstance(verdict, MonitorSkipped)
    assert verdict.reason.startswith("no production change for support-answer on record")
    assert "roll back by hand" in verdict.reason


def test_the_registry_disagreeing_with_the_ledger_is_skipped():
    moves = [change(WINDOW_START - timedelta(hours=3), 5, 6)]
    verdict = decide(fixture(), moves, production_now=8)
    assert isinstance(verdict, MonitorSkipped) and "Langfuse shows v8 now" in verdict.reason
    # The registry unreachable: the ledger alone decides.
    assert isinstance(decide(fixture(), moves, UNKNOWN), RollBackHeldVersion)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"severity": "WARNING"}, "severity WARNING: only ALERT rolls back"),
        ({"filters": []}, "the monitor's filters name no prompts"),
        (
            {"filters": [{"column": "promptName", "operator": "any of", "value": ["a", "b"]}]},
            "the monitor's filters name 2 prompts",
        ),
        ({"window": "forever"}, "the alert carries no window we can read"),
        (
            {
                "filters": [
                    {"column": "promptName", "operator": "=", "value": "support-answer"},
                    {"column": "promptVersion", "operator": "=", "value": 5},
                ]
            },
            "the monitor watches v5 but v6 held production",
        ),
    ],
)
def test_alerts_that_cannot_name_the_held_version_are_skipped(payload: dict[str, Any], expected: str):
    moves = [change(WINDOW_START - timedelta(hours=3), 5, 6)]
    verdict = decide(fixture(**payload), moves, production_now=6)
    assert isinstance(verdict, MonitorSkipped)
    assert expected in verdict.reason


def test_the_window_falls_back_to_timestamp_minus_window_without_from_and_to():
    event = fixture(fromTimestamp=None, toTimestamp=None, window="2h")
    moves = [change(datetime(2026, 11, 30, 13, 0, tzinfo=UTC), 5, 6)]
    verdict = decide(event, moves, production_now=6)
    assert isinstance(verdict, MonitorSkipped) and "inside the monitor's 2h window" in verdict.reason


def test_the_alert_becomes_one_request_whose_id_every_retry_shares():
    event = fixture()
    verdict = RollBackHeldVersion("support-answer", 6, WINDOW_START, WINDOW_START - timedelta(hours=3))
    first = triage(as_alertmanager_body(event, verdict), received_at=datetime.now(UTC))
    again = triage(as_alertmanager_body(fixture(), verdict), received_at=datetime.now(UTC))
    assert [r.alerted_version for r in first.accepted] == [6]
    request = first.accepted[0]
    assert request.prompt_name == "support-answer" and request.provider == "langfuse"
    assert request.request_id == again.accepted[0].request_id
    other = MonitorAlertEvent.model_validate({**event.model_dump(by_alias=True), "id": "exe_other"})
    assert (
        triage(as_alertmanager_body(other, verdict), datetime.now(UTC)).accepted[0].request_id
        != request.request_id
    )
    assert request.trigger is not None and request.trigger.labels["monitor_id"] == "mon_01JX2B8C4D6E"
