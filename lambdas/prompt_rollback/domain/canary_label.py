"""Whether a Langfuse prompt-version event is a person adding the candidate label in the UI, which
starts the prompt's default plan where `rollout_on_canary_label` opts the prompt in. Pure."""

from __future__ import annotations

from pydantic import ValidationError

from prompt_rollback.domain.langfuse_events import PRODUCTION_LABEL, PromptVersionEvent
from prompt_rollback.domain.requests import cut
from prompt_rollback.domain.rollout_messages import RolloutLabelStart
from prompt_rollback.domain.rollout_plan import RolloutPlans


def label_start(event: PromptVersionEvent, plans: RolloutPlans) -> RolloutLabelStart | str:
    """The start to queue, or why there is none (said in the webhook's answer)."""
    name, labels = event.prompt.name, event.prompt.labels
    if not plans.starts_on_canary_label(name):
        return f"{name} is not opted in to rollouts on the canary label"
    label = plans.plan_for(name).candidate_label
    if event.action != "updated":
        return f"a {event.action} event: only a label added to an existing version (updated) starts a rollout"
    if label not in labels:
        return f"no {label} label on v{event.prompt.version}"
    if PRODUCTION_LABEL in labels:
        return f"v{event.prompt.version} holds {PRODUCTION_LABEL}: nothing to roll out"
    try:
        return RolloutLabelStart(
            provider="langfuse",
            prompt_name=name,
            version=event.prompt.version,
            event_id=event.id,
            actor=cut(f"{event.actor} ({label} label in Langfuse)", 180),
        )
    except ValidationError as error:  # a name or version no rollout can have
        return f"no rollout can start on it: {error.errors(include_url=False)[0]['msg']}"
