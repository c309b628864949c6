"""A person added the candidate label in Langfuse's UI: queue the rollout start on the prompt's FIFO
group (the worker checks the label is still there and starts the default plan)."""

from __future__ import annotations

from collections.abc import Callable

from prompt_rollback.domain.canary_label import label_start
from prompt_rollback.domain.langfuse_events import PromptVersionEvent
from prompt_rollback.domain.rollout_messages import RolloutLabelStart
from prompt_rollback.domain.rollout_plan import RolloutPlans


class CanaryLabelStarts:
    def __init__(self, plans: RolloutPlans, enqueue: Callable[[RolloutLabelStart], None]) -> None:
        self._plans = plans
        self._enqueue = enqueue

    def consider(self, event: PromptVersionEvent) -> str:
        """ "queued", or why no rollout was queued; a queue failure raises (the sender retries)."""
        start = label_start(event, self._plans)
        if isinstance(start, str):
            return start
        self._enqueue(start)
        return "queued"
