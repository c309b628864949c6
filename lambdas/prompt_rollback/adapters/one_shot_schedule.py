"""One-shot EventBridge Scheduler schedules: each puts one message on the rollback queue's FIFO group
when it is due, then deletes itself (FIFO queues take no per-message delay; Scheduler does)."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel


def schedule_name(prefix: str, key: str) -> str:
    """Names allow [0-9a-zA-Z-_.] up to 64 characters: a digest keeps one schedule per key."""
    return prefix + hashlib.sha256(key.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class OneShotQueueSchedules:
    client: Any  # boto3's "scheduler" client
    group_name: str
    queue_arn: str
    role_arn: str  # what Scheduler sends with
    # Where Scheduler parks a message it could not deliver: without it the message is dropped, and
    # nobody is told (a rollout would wait for its tick forever, a rollback's recovery go unchecked).
    dead_letter_arn: str

    def put_at(self, due: datetime, message: BaseModel, *, name: str, message_group_id: str) -> None:
        """Create the schedule `name`; idempotent: a retry finds it there already."""
        at = due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        target: dict[str, Any] = {
            "Arn": self.queue_arn,
            "RoleArn": self.role_arn,
            "Input": message.model_dump_json(),
            "SqsParameters": {"MessageGroupId": message_group_id},
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10},
            "DeadLetterConfig": {"Arn": self.dead_letter_arn},
        }
        # A ConflictException: created by an earlier attempt of the same request.
        with contextlib.suppress(self.client.exceptions.ConflictException):
            self.client.create_schedule(
                Name=name,
                GroupName=self.group_name,
                ScheduleExpression=f"at({at})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target=target,
            )
