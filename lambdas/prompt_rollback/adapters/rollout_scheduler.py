"""Rollout ticks as one-shot EventBridge Scheduler schedules: each puts a RolloutTick on the prompt's
FIFO message group when it is due, then deletes itself. FIFO queues take no per-message delay."""

from __future__ import annotations

from datetime import datetime

from prompt_rollback.adapters.one_shot_schedule import OneShotQueueSchedules, schedule_name
from prompt_rollback.domain.requests import message_group_id
from prompt_rollback.domain.rollout_messages import RolloutTick


class EventBridgeTickScheduler:
    def __init__(self, schedules: OneShotQueueSchedules) -> None:
        self._schedules = schedules

    def schedule_tick(self, tick: RolloutTick, due: datetime) -> str:
        """Idempotent per tick: a retry finds the schedule there already."""
        name = schedule_name("tick-", f"{tick.rollout_id}:{tick.step}:{tick.tick}")
        group = message_group_id(tick.provider, tick.prompt_name)
        self._schedules.put_at(due, tick, name=name, message_group_id=group)
        return name
