"""Resolved alerts, as the intake queues them for the worker: one message per prompt, each alert
naming the rollback its firing caused, so recovery is judged on what people were told.
Apart from the people-in-the-loop models: the webhook queues these and never loads those."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from prompt_rollback.domain.times import WireTime

MAX_RESOLVED_PER_SIGNAL = 100  # ~30 KB of JSON: far inside an SQS message


class ResolvedAlert(BaseModel):
    """One resolved alert: `rollback_id` is the id the same alert's firing got
    (domain/requests.alert_request_id), so the worker finds the rollback it caused, if any."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    rollback_id: str = Field(pattern=r"^[A-Za-z0-9_\-:.]{1,128}$")
    alertname: str = Field(default="", max_length=200)
    fingerprint: str = Field(max_length=64)
    starts_at: WireTime
    resolved_at: WireTime
    # Who said it resolved (alertmanager, grafana, amp, cloudwatch, watcher): the record's actor.
    source: str = Field(default="alertmanager", pattern=r"^[a-z][a-z0-9_-]{0,39}$")


class ResolutionSignal(BaseModel):
    """Alertmanager's resolved notifications for one prompt, queued on its message group (one
    message per prompt per webhook body: a storm resolves together)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    message_type: Literal["resolution"] = "resolution"
    provider: str = Field(min_length=1, max_length=40)
    prompt_name: str = Field(min_length=1, max_length=400)
    alerts: list[ResolvedAlert] = Field(min_length=1, max_length=MAX_RESOLVED_PER_SIGNAL)

    @property
    def prompt_key(self) -> str:
        return f"{self.provider}#{self.prompt_name}"

    @property
    def deduplication_id(self) -> str:
        ids = "\x1f".join(alert.rollback_id for alert in self.alerts)
        return "resolved-" + hashlib.sha256(ids.encode()).hexdigest()[:40]
