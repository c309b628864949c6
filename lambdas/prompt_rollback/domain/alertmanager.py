"""The Alertmanager webhook body (version 4), as pydantic models.

Unknown keys are ignored on purpose: newer Alertmanagers add fields
(`notification_reason` in 0.32, `routeLabels` in 0.34) and must not be rejected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Generous, but bounded: a body is untrusted input and every string ends up in Slack or DynamoDB.
MAX_ALERTS_PER_BODY = 1000
MAX_LABEL_VALUE_LENGTH = 4096

LabelMap = dict[str, str]


class _AlertmanagerModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class Alert(_AlertmanagerModel):
    status: Literal["firing", "resolved"]
    labels: LabelMap = Field(default_factory=dict)
    annotations: LabelMap = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL", max_length=MAX_LABEL_VALUE_LENGTH)
    fingerprint: str = Field(pattern=r"^[0-9A-Za-z]{1,64}$")


class AlertmanagerWebhook(_AlertmanagerModel):
    version: Literal["4"]
    group_key: str = Field(alias="groupKey", max_length=MAX_LABEL_VALUE_LENGTH)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    group_labels: LabelMap = Field(default_factory=dict, alias="groupLabels")
    common_labels: LabelMap = Field(default_factory=dict, alias="commonLabels")
    common_annotations: LabelMap = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[Alert] = Field(max_length=MAX_ALERTS_PER_BODY)
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)
