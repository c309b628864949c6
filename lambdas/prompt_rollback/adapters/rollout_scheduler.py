"""Rollout ticks as one-shot EventBridge Scheduler schedules: each puts a RolloutTick on the prompt's
FIFO message group when it is due, then deletes itself. FIFO queues take no per-message delay."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime
from typing import Any

from prompt_rollback.domain.requests import message_group_id
from prompt_rollback.domain.rollout_messages import RolloutTick


class EventBridgeTickScheduler:
    def __init__(self, client: Any, group_name: str, queue_arn: str, role_arn: str) -> None:
        self._client = client
        self._group = group_name
        self._queue_arn = queue_arn
        self._role_arn = role_arn

    def schedule_tick(self, tick: RolloutTick, due: datetime) -> str:
        """Idempotent per tick: a retry finds the schedule there already."""
        key = f"{tick.rollout_id}:{tick.step}:{tick.tick}"
        name = "tick-" + hashlib.sha256(key.encode()).hexdigest()[:40]
        at = due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        with contextlib.suppress(self._client.exceptions.ConflictException):
            self._client.create_schedule(
                Name=name,
                GroupName=self._group,
                ScheduleExpression=f"at({at})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": self._queue_arn,
                    "RoleArn": self._role_arn,
                    "Input": tick.model_dump_json(),
                    "SqsParameters": {"MessageGroupId": message_group_id(tick.provider, tick.prompt_name)},
                    "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10},
                },
            )
        return name
