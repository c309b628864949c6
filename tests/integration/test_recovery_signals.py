"""Recovery signals from every source reach the rollback they are about: a CloudWatch alarm's OK,
times written without an offset, and the right actor on each `recovered` record."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from prompt_rollback.sources import events_handler as alert_events

from local_mode.lambda_runtime import LocalLambdaContext
from tests.integration.conftest import Stack
from tests.unit.sources_fixtures import source_fixture

PROMPT = "support-answer"


def _alarm_events(alarm_at: datetime, ok_at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ALARM and the OK state change of one alarm, as EventBridge delivers them."""
    alarm = source_fixture("cloudwatch-alarm-prompt.json")
    ok = source_fixture("cloudwatch-alarm-prompt-ok.json")
    alarm["detail"]["state"]["timestamp"] = alarm_at.isoformat()
    ok["detail"]["previousState"]["timestamp"] = alarm_at.isoformat()
    ok["detail"]["state"]["timestamp"] = ok_at.isoformat()
    return alarm, ok


def _recovered(stack: Stack) -> list[dict[str, Any]]:
    return [r for r in stack.audit(PROMPT) if r.get("outcome") == "recovered"]


def test_a_cloudwatch_alarm_going_ok_records_the_recovery_of_its_rollback(stack: Stack):
    now = datetime.now(UTC)
    alarm, ok = _alarm_events(now - timedelta(minutes=1), now + timedelta(minutes=6))
    alert_events.lambda_handler(alarm, LocalLambdaContext("alert-events"))
    stack.drain()
    [decision] = stack.decisions(PROMPT)
    assert decision["outcome"] == "rolled_back"

    alert_events.lambda_handler(ok, LocalLambdaContext("alert-events"))
    stack.drain()
    [recovered] = _recovered(stack)
    assert recovered["rollback_id"] == decision["request_id"]
    assert recovered["actor"] == "cloudwatch"  # the source that said so, not "alertmanager"
    assert 5 * 60 <= recovered["recovery_seconds"] <= 7 * 60


def test_a_resolution_names_its_source_as_the_actor(stack: Stack, firing_body, resolved_body):
    stack.post(firing_body)
    stack.drain()
    stack.post(resolved_body)
    stack.drain()
    [recovered] = _recovered(stack)
    assert recovered["actor"] == "alertmanager"


def test_times_without_an_offset_are_read_as_utc_and_the_resolution_is_recorded(
    stack: Stack, firing_body, resolved_body
):
    firing, resolved = copy.deepcopy(firing_body), copy.deepcopy(resolved_body)
    started = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0, tzinfo=None)
    ended = started + timedelta(minutes=14)
    for body in (firing, resolved):
        body["alerts"][0]["startsAt"] = started.isoformat()  # "2026-12-06T01:45:00": no offset
    resolved["alerts"][0]["endsAt"] = ended.isoformat()
    assert stack.post(firing)[0] == 202
    stack.drain()
    [decision] = stack.decisions(PROMPT)
    assert decision["outcome"] == "rolled_back"
    assert decision["trigger"]["starts_at"].startswith(started.isoformat())

    assert stack.post(resolved)[0] == 202
    stack.drain()
    [recovered] = _recovered(stack)  # was: TypeError on every attempt, then the DLQ, unaudited
    assert recovered["rollback_id"] == decision["request_id"]
    assert recovered["resolved_at"].startswith(ended.isoformat())
    assert stack.queue_depth(stack.resources.dlq_url) == 0
