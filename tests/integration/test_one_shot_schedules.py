"""The rollout tick's one-shot schedule, as moto's EventBridge Scheduler stores it: due once, on the
prompt's FIFO group, gone after it ran, and created once however often the tick is retried."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws
from prompt_rollback import wiring
from prompt_rollback.adapters.one_shot_schedule import OneShotQueueSchedules
from prompt_rollback.adapters.rollout_scheduler import EventBridgeTickScheduler
from prompt_rollback.domain.requests import message_group_id
from prompt_rollback.domain.rollout_messages import RolloutTick
from prompt_rollback.errors import ConfigurationError

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:requests.fifo"
ROLE_ARN = "arn:aws:iam::123456789012:role/scheduler"
PARKED_ARN = "arn:aws:sqs:us-east-1:123456789012:schedules-dlq"


@pytest.fixture
def scheduler(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("scheduler")
        client.create_schedule_group(Name="rollout")
        yield client


def test_a_tick_is_one_schedule_on_its_prompts_group_created_once(scheduler):
    ticks = EventBridgeTickScheduler(
        OneShotQueueSchedules(scheduler, "rollout", QUEUE_ARN, ROLE_ARN, PARKED_ARN)
    )
    tick = RolloutTick(provider="bedrock", prompt_name="team/answer", rollout_id="ro-1", step=2, tick=3)
    due = datetime(2030, 5, 6, 7, 8, 9, 500_000, tzinfo=UTC) + timedelta(hours=2)

    name = ticks.schedule_tick(tick, due.astimezone(UTC))
    assert ticks.schedule_tick(tick, due) == name  # a retried tick finds its schedule there

    [listed] = scheduler.list_schedules(GroupName="rollout")["Schedules"]
    assert listed["Name"] == name and name.startswith("tick-") and len(name) <= 64
    schedule = scheduler.get_schedule(Name=name, GroupName="rollout")
    assert schedule["ScheduleExpression"] == "at(2030-05-06T09:08:09)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    target = schedule["Target"]
    assert (target["Arn"], target["RoleArn"]) == (QUEUE_ARN, ROLE_ARN)
    assert target["SqsParameters"]["MessageGroupId"] == message_group_id("bedrock", "team/answer")
    assert RolloutTick.model_validate(json.loads(target["Input"])) == tick
    assert target["DeadLetterConfig"] == {"Arn": PARKED_ARN}


def test_each_tick_of_a_rollout_has_its_own_schedule(scheduler):
    ticks = EventBridgeTickScheduler(
        OneShotQueueSchedules(scheduler, "rollout", QUEUE_ARN, ROLE_ARN, PARKED_ARN)
    )
    due = datetime(2030, 1, 1, tzinfo=UTC)
    names = {
        ticks.schedule_tick(RolloutTick(prompt_name="answer", rollout_id="ro-1", step=step, tick=n), due)
        for step, n in [(0, 1), (0, 2), (1, 1)]
    }
    assert len(names) == 3
    assert len(scheduler.list_schedules(GroupName="rollout")["Schedules"]) == 3


def test_the_workers_tick_schedules_park_what_scheduler_cannot_deliver(scheduler, monkeypatch):
    """Configured as the stack configures the worker: a tick Scheduler could not put on the queue
    goes to the dead-letter queue (alarmed), not nowhere, or the rollout would wait for it forever."""
    from prompt_rollback.rollout import wiring as rollout_wiring

    for variable, value in {
        "RECOVERY_SCHEDULE_GROUP": "rollout",
        "ROLLBACK_QUEUE_ARN": QUEUE_ARN,
        "RECOVERY_SCHEDULER_ROLE_ARN": ROLE_ARN,
        "RECOVERY_DEAD_LETTER_QUEUE_ARN": PARKED_ARN,
    }.items():
        monkeypatch.setenv(variable, value)
    wiring.reset()
    ticks = rollout_wiring.tick_scheduler()
    assert ticks is not None
    name = ticks.schedule_tick(
        RolloutTick(prompt_name="answer", rollout_id="ro-1", step=0, tick=1), datetime(2030, 1, 1, tzinfo=UTC)
    )
    target = scheduler.get_schedule(Name=name, GroupName="rollout")["Target"]
    assert target["DeadLetterConfig"] == {"Arn": PARKED_ARN}

    monkeypatch.delenv("RECOVERY_DEAD_LETTER_QUEUE_ARN")
    wiring.reset()
    with pytest.raises(ConfigurationError, match="RECOVERY_DEAD_LETTER_QUEUE_ARN"):
        rollout_wiring.tick_scheduler()
    wiring.reset()
