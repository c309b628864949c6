"""What reaches the rollout controller: a scheduled tick on the prompt's FIFO group, or a person's
command (CLI, Lambda invoke, a CI step). Tagged like every other message kind of the worker."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prompt_rollback.domain.interactions import SlackClicker
from prompt_rollback.domain.prompt_names import PromptName
from prompt_rollback.domain.requests import MAX_VERSION

RolloutCommandName = Literal[
    "start", "status", "list", "promote", "abort", "pause", "resume", "approve", "reject"
]


class _Message(BaseModel):
    # defer_build: a function imports many more models than it validates; each is built when first used.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    provider: Literal["langfuse", "bedrock"] = "langfuse"
    prompt_name: PromptName = Field(min_length=1, max_length=400)

    @property
    def prompt_key(self) -> str:
        return f"{self.provider}#{self.prompt_name}"


class RolloutTick(_Message):
    """Look at a rollout once. Only the tick its newest record scheduled acts; any other (a
    re-delivery, a tick of an earlier chain) changes nothing."""

    message_type: Literal["rollout_tick"] = "rollout_tick"
    rollout_id: str = Field(pattern=r"^[A-Za-z0-9_\-:.]{1,128}$")
    step: int = Field(ge=0)
    tick: int = Field(ge=1)


class RolloutLabelStart(_Message):
    """A person added the candidate label to `version` in Langfuse's UI (a signed webhook, event
    `event_id`): start the prompt's default plan if the version still holds the label then."""

    message_type: Literal["rollout_label_start"] = "rollout_label_start"
    version: int = Field(ge=1, le=MAX_VERSION)
    event_id: str = Field(min_length=1, max_length=200)
    actor: str = Field(min_length=1, max_length=180)

    @property
    def deduplication_id(self) -> str:
        return "label-start-" + hashlib.sha256(self.event_id.encode()).hexdigest()[:40]


RolloutClickName = Literal["rollout_approve", "rollout_abort", "rollout_promote_full"]


class RolloutClick(_Message, SlackClicker):
    """A button on a rollout's Slack message, queued by POST /slack/actions on the prompt's group.
    The prompt is what our ledger says of the rollout id, never taken from the click."""

    message_type: Literal["rollout_click"] = "rollout_click"
    click: RolloutClickName
    rollout_id: str = Field(pattern=r"^[A-Za-z0-9_\-:.]{1,128}$")
    clicked_at: datetime


class RolloutCommand(_Message):
    """A person's command. Whoever may invoke the worker may give it (IAM is the gate); approvals
    are checked against the step's approvers all the same."""

    command: RolloutCommandName
    actor: str = Field(default="cli", min_length=1, max_length=180)
    version: int | None = Field(default=None, ge=1, le=MAX_VERSION)  # start: the candidate
    plan: dict[str, Any] | None = None  # start: the plan (else the default for the prompt)
    target: dict[str, str] = Field(default_factory=dict)  # bedrock: the SSM prompt pointer
    full: bool = False  # promote: straight to 100 %
    step: int | None = Field(default=None, ge=0)  # approve / reject: the checkpoint
    received_at: datetime | None = None
