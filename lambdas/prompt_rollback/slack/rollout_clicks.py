"""A click on a rollout's Slack message (the `rollout_` action family), as queued for the worker:
who clicked which button on which rollout id; the prompt is the one our ledger names for that id."""

from __future__ import annotations

from datetime import UTC, datetime

from prompt_rollback.domain.interactions import SlackAction, action_id
from prompt_rollback.domain.rollout_messages import RolloutClick
from prompt_rollback.slack.block_actions import BlockActionsPayload


def rollout_click(payload: BlockActionsPayload, prompt_key: str) -> RolloutClick:
    clicked = payload.actions[0]
    provider, _, prompt_name = prompt_key.partition("#")
    return RolloutClick(
        provider=provider,  # type: ignore[arg-type]  # a provider our own ledger recorded
        prompt_name=prompt_name,
        action_id=action_id(
            payload.team.id, payload.user.id, clicked.action_ts, clicked.action_id, clicked.value
        ),
        click=clicked.action_id,  # type: ignore[arg-type]  # checked against ROLLOUT_ACTIONS by the caller
        rollout_id=clicked.value,
        user_id=payload.user.id,
        user_name=(payload.user.username or payload.user.name)[:200],
        channel_id=payload.channel.id[:40],
        clicked_at=datetime.now(UTC),
    )


def clicked_id(click: SlackAction | RolloutClick) -> str:
    """The rollback or rollout id the button carried."""
    return click.rollout_id if isinstance(click, RolloutClick) else click.rollback_id
