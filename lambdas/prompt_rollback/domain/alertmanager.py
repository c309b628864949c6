"""The Alertmanager webhook body (version 4), as pydantic models.

Unknown keys are ignored on purpose: newer Alertmanagers add fields
(`notification_reason` in 0.32, `routeLabels` in 0.34) and must not be rejected.

No length or count limit here: Alertmanager never retries a 4xx, so refusing a body for a long
text or many alerts would drop every alert of the group. The 1 MiB body limit of the webhook
bounds the work; what is kept of each text is cut to fit when a request is built (intake).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# A count we only report (in the answer, a metric): an absurd one is capped, not refused.
MAX_TRUNCATED_ALERTS = 2**31 - 1

LabelMap = dict[str, str]


class _AlertmanagerModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Alert(_AlertmanagerModel):
    status: Literal["firing", "resolved"]
    labels: LabelMap = Field(default_factory=dict)
    annotations: LabelMap = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = Field(pattern=r"^[0-9A-Za-z]{1,64}$")


class AlertmanagerWebhook(_AlertmanagerModel):
    version: Literal["4"]
    group_key: str = Field(alias="groupKey")
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: LabelMap = Field(default_factory=dict, alias="groupLabels")
    common_labels: LabelMap = Field(default_factory=dict, alias="commonLabels")
    common_annotations: LabelMap = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[Alert]
    # How many alerts Alertmanager left out of this body (the receiver's `max_alerts`).
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")

    @field_validator("truncated_alerts")
    @classmethod
    def _bounded_count(cls, value: int) -> int:
        return min(max(value, 0), MAX_TRUNCATED_ALERTS)
