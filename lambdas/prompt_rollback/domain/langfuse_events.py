"""The body of a Langfuse prompt-version webhook (Prompts -> Automations -> Webhook).
Only what a production change needs is required; the rest (config, tags, the prompt text) is
ignored, so a newer server does not break the endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from prompt_rollback.domain.times import WireTime

PRODUCTION_LABEL = "production"
MAX_BODY_BYTES = 1_048_576


# `id` is optional: the dispatcher (langfuse/langfuse worker/src/queues/webhooks.ts) forwards
# only the user's name and email.
class LangfuseUser(BaseModel):
    # defer_build: a function imports many more models than it validates; each is built when first used.
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)

    def describe(self) -> str:
        """Who, as the audit shows it: the email when there is one (it is what people search for)."""
        return self.email or self.name or (f"langfuse user {self.id}" if self.id else "")


class WebhookPrompt(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    id: str = Field(default="", max_length=200)
    name: str = Field(min_length=1, max_length=500)
    version: int = Field(ge=1)
    project_id: str = Field(default="", alias="projectId", max_length=200)
    labels: list[str] = Field(default_factory=list, max_length=1000)
    commit_message: str | None = Field(default=None, alias="commitMessage")
    created_at: WireTime = Field(alias="createdAt")
    updated_at: WireTime = Field(alias="updatedAt")

    @property
    def in_production(self) -> bool:
        return PRODUCTION_LABEL in self.labels


# PromptWebhookOutboundSchema (langfuse/langfuse packages/shared/src/domain/webhooks.ts):
# {id, timestamp, type: "prompt-version", apiVersion: "v1", action, user?, prompt{...}}.
class PromptVersionEvent(BaseModel):
    """One delivery. `id` is the same on every attempt of one event (Langfuse's execution id)."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    id: str = Field(min_length=1, max_length=200)
    timestamp: WireTime
    type: Literal["prompt-version"]
    api_version: Literal["v1"] = Field(alias="apiVersion")
    action: Literal["created", "updated", "deleted"]
    prompt: WebhookPrompt
    user: LangfuseUser | None = None

    @property
    def actor(self) -> str:
        described = self.user.describe() if self.user else ""
        # No user: the change came through the public API with a project key (CI, a script, or us).
        return described or "langfuse api key"

    @property
    def changed_at(self) -> datetime:
        """When the change happened in Langfuse. Not `timestamp`: that is when the delivery job
        was built and is new on each of Langfuse's job retries."""
        if self.action == "created":
            return self.prompt.created_at
        if self.action == "updated":
            return self.prompt.updated_at
        return self.timestamp
