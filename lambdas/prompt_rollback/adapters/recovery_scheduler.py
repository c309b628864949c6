"""One-shot EventBridge Scheduler schedules: "check this rollback's recovery at T".
A schedule per rollback, not a ledger-scanning sweep: it puts a RecoveryCheck on the prompt's FIFO
message group at the minute the window ends, then deletes itself (docs/slack-app.md, "Did it recover?")."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime
from typing import Any

from prompt_rollback.domain.interactions import RecoveryCheck
from prompt_rollback.domain.requests import message_group_id


class EventBridgeRecoveryScheduler:
    def __init__(
        self, client: Any, group_name: str, queue_arn: str, role_arn: str, *, dead_letter_arn: str
    ) -> None:
        self._client = client
        self._group = group_name
        self._queue_arn = queue_arn
        self._role_arn = role_arn
        self._dead_letter_arn = dead_letter_arn

    def schedule(self, check: RecoveryCheck, due: datetime) -> str:
        """Create the schedule (idempotent: a retry finds it there already); returns its name."""
        # Names allow [0-9a-zA-Z-_.] up to 64 characters: a digest keeps one per rollback id.
        name = "check-" + hashlib.sha256(check.rollback_id.encode()).hexdigest()[:40]
        at = due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        # A ConflictException: created by an earlier attempt of the same request.
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
                    "Input": check.model_dump_json(),
                    "SqsParameters": {"MessageGroupId": message_group_id(check.provider, check.prompt_name)},
                    "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10},
                    # Without it a check that could not be delivered is dropped, and nobody is told.
                    "DeadLetterConfig": {"Arn": self._dead_letter_arn},
                },
            )
        return name
