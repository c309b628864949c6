"""Recovery signals reach the rollback they are about (a CloudWatch alarm's OK, times without an
offset, the source as actor); a version-scoped alert's recovery is judged on the new production."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from prompt_rollback.domain.audit import parse_iso_utc
from prompt_rollback.domain.interactions import RecoveryCheck
from prompt_rollback.domain.requests import message_group_id
from prompt_rollback.slack import wiring as slack_wiring
from prompt_rollback.sources import events_handler as alert_events

from local_mode.lambda_runtime import LocalLambdaContext
from tests.integration.conftest import Stack
from tests.integration.slack_app_stack import APPROVER, AppStack, set_policy
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


# ---- version-scoped alerts: recovery is judged on the version now in production ------------------
def _version_scoped(body: dict[str, Any]) -> dict[str, Any]:
    """The alert as the Langfuse-regression rules (and the watcher) raise it: it fires on the
    version holding production only, so it resolves the moment that version leaves production."""
    scoped = copy.deepcopy(body)
    for alert in scoped["alerts"]:
        alert["labels"].update({"trigger": "error_rate", "provider": "langfuse"})
        alert["labels"].pop("env", None)
    return scoped


def _deliver_check_at(app: AppStack, rollback_id: str, at: datetime, monkeypatch) -> None:
    monkeypatch.setattr(slack_wiring, "now", lambda: at)
    check = RecoveryCheck(rollback_id=rollback_id, provider="langfuse", prompt_name=PROMPT)
    boto3.client("sqs").send_message(
        QueueUrl=app.stack.resources.queue_url,
        MessageBody=check.model_dump_json(),
        MessageGroupId=message_group_id("langfuse", PROMPT),
        MessageDeduplicationId=f"check-{rollback_id}-{at.timestamp()}",
    )
    app.stack.drain()


def _traffic(app: AppStack, version: int, errors: int, generations: int, end: datetime) -> None:
    """`generations` of `version` in the five minutes before `end`, `errors` of them at ERROR."""
    metrics = app.stack.langfuse.app.metrics
    for index in range(generations):
        at = end - timedelta(seconds=290) + timedelta(seconds=index * 280 / generations)
        metrics.add_generation(PROMPT, version, at, 700.0, level="ERROR" if index < errors else "DEFAULT")


def _scoped_rollback(app: AppStack, firing_body, resolved_body) -> tuple[str, datetime]:
    app.stack.post(_version_scoped(firing_body))
    app.stack.drain()
    [decision] = app.stack.decisions(PROMPT)
    assert (decision["outcome"], decision["to_version"]) == ("rolled_back", 6)
    app.stack.post(_version_scoped(resolved_body))  # v7 left production: its alert resolves at once
    app.stack.drain()
    return str(decision["request_id"]), parse_iso_utc(decision["recorded_at"])


def test_a_version_scoped_alert_resolving_does_not_close_the_incident(app_stack, firing_body, resolved_body):
    _scoped_rollback(app_stack, firing_body, resolved_body)
    assert _recovered(app_stack.stack) == []  # was: "recovered 0.0 min after the rollback"
    assert app_stack.slack_api.thread(app_stack.incident().ts) == []


def test_recovery_of_a_version_scoped_rollback_is_judged_on_the_new_production_errors(
    app_stack, firing_body, resolved_body, monkeypatch
):
    rollback_id, moved_at = _scoped_rollback(app_stack, firing_body, resolved_body)
    due = moved_at + timedelta(minutes=30)
    _traffic(app_stack, version=6, errors=1, generations=200, end=due)  # 0.5 %: under 1 %
    _traffic(app_stack, version=7, errors=200, generations=200, end=due)  # not production: not judged
    _deliver_check_at(app_stack, rollback_id, due, monkeypatch)
    [recovered] = _recovered(app_stack.stack)
    assert (recovered["rollback_id"], recovered["actor"]) == (rollback_id, "recovery-check")
    assert "v6: 0.5 % errors (1 of 200 generations) in the last 5 min, under 1 %" in recovered["reason"]
    message = app_stack.incident()
    assert "production recovered" in message.text
    [reply] = app_stack.slack_api.thread(message.ts)
    assert reply.text.startswith("Recovered: v6: 0.5 % errors")


def test_a_version_scoped_rollback_whose_new_production_still_fails_is_overdue(
    app_stack, firing_body, resolved_body, monkeypatch
):
    set_policy(app_stack, approvers=[APPROVER], recovery_error_rate_below=0.02, recovery_error_minutes=10)
    rollback_id, moved_at = _scoped_rollback(app_stack, firing_body, resolved_body)
    due = moved_at + timedelta(minutes=30)
    _traffic(app_stack, version=6, errors=6, generations=200, end=due)  # 3 %: not under 2 %
    _deliver_check_at(app_stack, rollback_id, due, monkeypatch)
    assert _recovered(app_stack.stack) == []
    overdue = app_stack.stack.audit(PROMPT)[-1]
    assert (overdue["outcome"], overdue["rollback_id"]) == ("recovery_overdue", rollback_id)
    assert "v6: 3.0 % errors (6 of 200 generations) in the last 10 min, not under 2 %" in overdue["reason"]
    [reply] = app_stack.slack_api.thread(app_stack.incident().ts)
    assert reply.text.startswith("Not recovered: v6: 3.0 % errors")


def test_no_traffic_on_the_new_production_is_not_a_recovery(
    app_stack, firing_body, resolved_body, monkeypatch
):
    rollback_id, moved_at = _scoped_rollback(app_stack, firing_body, resolved_body)
    _deliver_check_at(app_stack, rollback_id, moved_at + timedelta(minutes=30), monkeypatch)
    overdue = app_stack.stack.audit(PROMPT)[-1]
    assert overdue["outcome"] == "recovery_overdue"
    assert "no generations of v6 in the last 5 min" in overdue["reason"]


def test_langfuse_metrics_not_answering_is_overdue_saying_so(
    app_stack, firing_body, resolved_body, monkeypatch
):
    rollback_id, moved_at = _scoped_rollback(app_stack, firing_body, resolved_body)
    app_stack.stack.langfuse.app.fail_next(503, count=5, path_prefix="/api/public/v2/metrics")
    _deliver_check_at(app_stack, rollback_id, moved_at + timedelta(minutes=30), monkeypatch)
    overdue = app_stack.stack.audit(PROMPT)[-1]
    assert overdue["outcome"] == "recovery_overdue"
    assert overdue["reason"].startswith("recovery could not be judged: LangfuseUnavailable")
    assert app_stack.stack.production(PROMPT) == 6  # a check never moves anything
