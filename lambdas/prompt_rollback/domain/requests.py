"""Rollback requests: what the webhook enqueues and the worker (or an on-call engineer) asks for."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from prompt_rollback.domain.prompt_names import prompt_name_problem

SUPPORTED_PROVIDERS = ("langfuse", "bedrock")
Provider = Literal["langfuse", "bedrock"]


class Trigger(BaseModel):
    """The alert that asked for a rollback, kept verbatim for Slack and the audit trail."""

    model_config = ConfigDict(frozen=True)

    alertname: str = ""
    fingerprint: str
    group_key: str = ""
    starts_at: datetime
    labels: dict[str, str] = Field(default_factory=dict)
    summary: str = ""
    generator_url: str = ""
    runbook_url: str = ""
    external_url: str = ""


class RollbackRequest(BaseModel):
    """One unit of work for the worker. `request_id` is also the rollback id shown everywhere."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_id: str = Field(pattern=r"^[A-Za-z0-9_\-:.]{1,128}$")
    provider: Provider = "langfuse"
    prompt_name: str
    alerted_version: int | None = Field(default=None, ge=1)
    rollback_to: int | None = Field(default=None, ge=1)
    environment: str = ""
    actor: str = Field(default="alertmanager", min_length=1, max_length=200)
    reason: str = Field(default="", max_length=2000)
    forced: bool = False
    dry_run: bool | None = None
    trigger: Trigger | None = None
    received_at: datetime
    provider_target: dict[str, str] = Field(default_factory=dict)
    # A click in Slack: the incident's message, updated in place instead of posting another.
    slack_channel: str = Field(default="", max_length=40)
    slack_ts: str = Field(default="", max_length=40)

    @field_validator("prompt_name")
    @classmethod
    def _valid_prompt_name(cls, value: str) -> str:
        problem = prompt_name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def prompt_key(self) -> str:
        return f"{self.provider}#{self.prompt_name}"

    @property
    def mode(self) -> Literal["automatic", "manual"]:
        return "manual" if self.forced else "automatic"


def alert_request_id(provider: str, prompt_name: str, fingerprint: str, starts_at: datetime) -> str:
    """Deterministic id of one firing of one alert: every re-delivery maps to the same id."""
    material = "\x1f".join((provider, prompt_name, fingerprint, starts_at.isoformat()))
    return "rb-" + hashlib.sha256(material.encode()).hexdigest()[:24]


def message_group_id(provider: str, prompt_name: str) -> str:
    """SQS FIFO group: one prompt's requests are processed one at a time, in order.

    Hashed because group ids allow only a restricted character set of at most 128 characters.
    """
    return hashlib.sha256(f"{provider}\x1f{prompt_name}".encode()).hexdigest()
