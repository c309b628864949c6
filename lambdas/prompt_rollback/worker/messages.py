"""What the rollback queue carries: one discriminated union of message kinds, tagged by
`message_type`. A new kind is one model here and one branch in worker/dispatch.py."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Tag, TypeAdapter

from prompt_rollback.domain.interactions import CliAction, RecoveryCheck, SlackAction
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.domain.resolutions import ResolutionSignal
from prompt_rollback.domain.rollout_messages import (
    RolloutClick,
    RolloutCommand,
    RolloutLabelStart,
    RolloutTick,
)

# Rollback requests have always been queued untagged (by the webhook, the event sources, the
# watcher; a redrive from the DLQ brings back whatever an older version wrote).
UNTAGGED = "rollback_request"


def message_type(body: Any) -> str | None:
    """The kind of a decoded body (untagged: a rollback request) or of a message; None if neither."""
    tag = (
        body.get("message_type", UNTAGGED) if isinstance(body, dict) else getattr(body, "message_type", None)
    )
    return tag if isinstance(tag, str) else None


QueueMessage = Annotated[
    Annotated[RollbackRequest, Tag(UNTAGGED)]
    | Annotated[SlackAction, Tag("slack_action")]
    | Annotated[ResolutionSignal, Tag("resolution")]
    | Annotated[RecoveryCheck, Tag("recovery_check")]
    | Annotated[RolloutTick, Tag("rollout_tick")]
    | Annotated[RolloutLabelStart, Tag("rollout_label_start")]
    | Annotated[RolloutClick, Tag("rollout_click")],
    Discriminator(message_type),
]
QUEUE_MESSAGE: TypeAdapter[QueueMessage] = TypeAdapter(QueueMessage)

# A CLI action (a rollout command too) is not queued: the CLI invokes the worker and prints its answer.
WorkerMessage = (
    RollbackRequest
    | SlackAction
    | CliAction
    | ResolutionSignal
    | RecoveryCheck
    | RolloutTick
    | RolloutLabelStart
    | RolloutClick
    | RolloutCommand
)


def parse_queue_message(body: str) -> QueueMessage:
    """One SQS body as its kind; a ValidationError when it fits none (the record then fails)."""
    return QUEUE_MESSAGE.validate_json(body)
