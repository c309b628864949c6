"""One-shot EventBridge Scheduler schedules: "check this rollback's recovery at T".
A schedule per rollback, not a ledger-scanning sweep: it puts a RecoveryCheck on the prompt's FIFO
message group at the minute the window ends, then deletes itself (docs/slack-app.md, "Did it recover?")."""

from __future__ import annotations

from datetime import datetime

from prompt_rollback.adapters.one_shot_schedule import OneShotQueueSchedules, schedule_name
from prompt_rollback.domain.interactions import RecoveryCheck
from prompt_rollback.domain.requests import message_group_id


class EventBridgeRecoveryScheduler:
    def __init__(self, schedules: OneShotQueueSchedules) -> None:
        self._schedules = schedules

    def schedule(self, check: RecoveryCheck, due: datetime) -> str:
        """Create the schedule (idempotent: a retry finds it there already); returns its name."""
        name = schedule_name("check-", check.rollback_id)
        group = message_group_id(check.provider, check.prompt_name)
        self._schedules.put_at(due, check, name=name, message_group_id=group)
        return name
