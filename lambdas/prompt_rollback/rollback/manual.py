"""The payload of a forced rollback invoked by hand, and the request it becomes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prompt_rollback.domain.bedrock_targets import target_labels_problem
from prompt_rollback.domain.requests import Provider, RollbackRequest

# Far above any real version; bounds what a hand-typed number may be (no 4,301-digit ints).
MAX_VERSION = 1_000_000_000


class ManualRollback(BaseModel):
    # defer_build: a function imports many more models than it validates; each is built when first used.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    prompt: str
    to_version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    from_version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description="only act if production is still here"
    )
    reason: str = Field(min_length=1, max_length=2000)
    actor: str = Field(min_length=1, max_length=200)
    provider: Provider = "langfuse"
    dry_run: bool | None = None
    allow_forward: bool = Field(default=False, description="let to_version be newer than production")
    request_id: str | None = Field(default=None, description="reuse to make a retried invocation safe")
    target: dict[str, str] = Field(
        default_factory=dict,
        description="bedrock: the pointer, as the alert labels would name it (docs/bedrock.md)",
    )

    @field_validator("actor", "reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # A forced rollback is never anonymous, nor without a why: spaces are not a name.
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _target_names_a_pointer(self) -> ManualRollback:
        problem = target_labels_problem(self.provider, self.target)
        if problem:
            raise ValueError(problem)
        return self

    def request(self) -> RollbackRequest:
        return RollbackRequest(
            request_id=self.request_id or f"manual-{uuid.uuid4().hex[:20]}",
            provider=self.provider,
            prompt_name=self.prompt,
            alerted_version=self.from_version,
            rollback_to=self.to_version,
            actor=self.actor,
            allow_forward=self.allow_forward,
            reason=self.reason,
            forced=True,
            dry_run=self.dry_run,
            received_at=datetime.now(UTC),
            provider_target=self.target,
        )
