"""Did it recover? Alertmanager's resolved notification → `recovered`; the scheduled check at the
end of the window → `recovery_overdue`; an expired proposal; the one-shot schedules themselves."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import boto3
from prompt_rollback.adapters.one_shot_schedule import OneShotQueueSchedules
from prompt_rollback.adapters.recovery_scheduler import EventBridgeRecoveryScheduler
from prompt_rollback.domain.interactions import RecoveryCheck
from prompt_rollback.domain.requests import message_group_id
from prompt_rollback.slack import wiring as slack_wiring

from tests.integration.slack_app_stack import APPROVER, CHANNEL, AppStack, set_policy

PROMPT = "support-answer"


def _roll_back(app: AppStack, firing_body) -> str:
    app.stack.post(firing_body)
    app.stack.drain()
    [decision] = app.stack.decisions(PROMPT)
    assert decision["outcome"] == "rolled_back"
    return str(decision["request_id"])


def _resolved_in(resolved_body, minutes: float) -> dict:
    body = copy.deepcopy(resolved_body)
    ends = datetime.now(UTC) + timedelta(minutes=minutes)
    for alert in body["alerts"]:
        alert["endsAt"] = ends.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return body


def _deliver_check(app: AppStack, rollback_id: str) -> None:
    """What the one-shot schedule sends at the end of the window: its Input on the prompt's group."""
    check = RecoveryCheck(rollback_id=rollback_id, provider="langfuse", prompt_name=PROMPT)
    boto3.client("sqs").send_message(
        QueueUrl=app.stack.resources.queue_url,
        MessageBody=check.model_dump_json(),
        MessageGroupId=message_group_id("langfuse", PROMPT),
        MessageDeduplicationId=f"check-{rollback_id}",
    )
    app.stack.drain()


def test_the_resolved_notification_records_recovered_and_replies_with_the_time(
    app_stack, firing_body, resolved_body
):
    rollback_id = _roll_back(app_stack, firing_body)
    assert app_stack.stack.post(_resolved_in(resolved_body, 4))[0] == 202
    app_stack.stack.drain()
    recovered = app_stack.stack.audit(PROMPT)[-1]
    assert (recovered["kind"], recovered["outcome"], recovered["rollback_id"]) == (
        "followup",
        "recovered",
        rollback_id,
    )
    assert 230 <= recovered["recovery_seconds"] <= 250
    message = app_stack.incident()
    assert "production recovered" in message.text
    [reply] = app_stack.slack_api.thread(message.ts)
    assert reply.text.startswith("Recovered: PromptRegression resolved 4.0 min after the rollback")
    assert app_stack.stack.production(PROMPT) == 6  # a resolution never moves anything

    app_stack.stack.post(_resolved_in(resolved_body, 5))  # re-sent: recorded once
    app_stack.stack.drain()
    assert [r["outcome"] for r in app_stack.stack.audit(PROMPT)].count("recovered") == 1


def test_no_resolution_within_the_window_is_overdue_in_the_thread(app_stack, firing_body, monkeypatch):
    rollback_id = _roll_back(app_stack, firing_body)
    _deliver_check(app_stack, rollback_id)  # too early (a clock skew): nothing
    assert app_stack.stack.audit(PROMPT)[-1]["kind"] == "decision"
    later = datetime.now(UTC) + timedelta(minutes=31)
    monkeypatch.setattr(slack_wiring, "now", lambda: later)
    _deliver_check(app_stack, rollback_id + "")
    overdue = app_stack.stack.audit(PROMPT)[-1]
    assert (overdue["outcome"], overdue["rollback_id"]) == ("recovery_overdue", rollback_id)
    message = app_stack.incident()
    assert "no recovery yet" in message.text
    assert [b["action_id"] for b in message.buttons()] == ["undo"]  # still undoable
    [reply] = app_stack.slack_api.thread(message.ts)
    assert reply.text == "Not recovered: no resolution within 30 min of the rollback. Someone should look."


def test_an_unapproved_proposal_expires_when_its_check_comes(app_stack, firing_body, monkeypatch):
    set_policy(app_stack, approvers=[APPROVER], prompts={"support-*": {"mode": "approval"}})
    app_stack.stack.post(firing_body)
    app_stack.stack.drain()
    [proposal] = app_stack.stack.decisions(PROMPT)
    later = datetime.now(UTC) + timedelta(minutes=61)
    monkeypatch.setattr(slack_wiring, "now", lambda: later)
    _deliver_check(app_stack, proposal["request_id"])
    expired = app_stack.stack.audit(PROMPT)[-1]
    assert (expired["outcome"], expired["rollback_id"]) == ("expired", proposal["request_id"])
    assert "expired" in app_stack.incident().text and app_stack.incident().buttons() == []
    assert app_stack.stack.production(PROMPT) == 7


def test_each_rollback_gets_one_one_shot_schedule_onto_its_prompts_queue_group(app_stack, firing_body):
    scheduler = boto3.client("scheduler")
    scheduler.create_schedule_group(Name="recovery")
    monkeypatch = app_stack.stack.monkeypatch
    monkeypatch.setenv("RECOVERY_SCHEDULE_GROUP", "recovery")
    monkeypatch.setenv("ROLLBACK_QUEUE_ARN", "arn:aws:sqs:us-east-1:123456789012:requests.fifo")
    monkeypatch.setenv("RECOVERY_SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/scheduler")
    dead_letters = "arn:aws:sqs:us-east-1:123456789012:recovery-checks-dlq"
    monkeypatch.setenv("RECOVERY_DEAD_LETTER_QUEUE_ARN", dead_letters)
    slack_wiring.reset()
    rollback_id = _roll_back(app_stack, firing_body)
    [listed] = scheduler.list_schedules(GroupName="recovery")["Schedules"]
    schedule = scheduler.get_schedule(Name=listed["Name"], GroupName="recovery")
    assert schedule["ScheduleExpression"].startswith("at(")
    due = datetime.fromisoformat(schedule["ScheduleExpression"][3:-1]).replace(tzinfo=UTC)
    assert timedelta(minutes=29) < due - datetime.now(UTC) <= timedelta(minutes=30)
    assert schedule["ActionAfterCompletion"] == "DELETE"
    target = schedule["Target"]
    assert target["SqsParameters"]["MessageGroupId"] == message_group_id("langfuse", PROMPT)
    # A check Scheduler could not deliver after its retries is parked (and alarmed), not dropped.
    assert target["DeadLetterConfig"] == {"Arn": dead_letters}
    assert json.loads(target["Input"]) == {
        "message_type": "recovery_check",
        "rollback_id": rollback_id,
        "provider": "langfuse",
        "prompt_name": PROMPT,
    }
    # A retry of the same request finds its schedule there and does not fail.
    schedules = OneShotQueueSchedules(scheduler, "recovery", target["Arn"], target["RoleArn"], dead_letters)
    adapter = EventBridgeRecoveryScheduler(schedules)
    check = RecoveryCheck(rollback_id=rollback_id, provider="langfuse", prompt_name=PROMPT)
    assert adapter.schedule(check, due) == listed["Name"]
    assert CHANNEL in {m.channel for m in app_stack.slack_api.top_level()}
