"""The Alertmanager webhook body (version 4), and the alert model AMP's and Grafana's bodies reuse.
Unknown keys are ignored (newer Alertmanagers add fields), and there is no length limit:
Alertmanager never retries a 4xx, so intake cuts long texts instead of refusing the body."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from prompt_rollback.domain.times import WireTime

# What the trigger table's Prometheus rules (detection/rules.py), and the watcher, name every alert.
ALERT_NAME = "PromptRegression"
# A count we only report (in the answer, a metric): an absurd one is capped, not refused.
MAX_TRUNCATED_ALERTS = 2**31 - 1

LabelMap = dict[str, str]
AlertStatus = Literal["firing", "resolved"]


class AlertmanagerModel(BaseModel):
    # defer_build: a function imports many more models than it validates; each is built when first used.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True, defer_build=True)


class Alert(AlertmanagerModel):
    """One alert as Alertmanager sends it; a source with more to say subclasses it."""

    status: AlertStatus
    labels: LabelMap = Field(default_factory=dict)
    annotations: LabelMap = Field(default_factory=dict)
    starts_at: WireTime = Field(alias="startsAt")
    ends_at: WireTime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = Field(pattern=r"^[0-9A-Za-z]{1,64}$")


class AlertGroup(AlertmanagerModel):
    """What an Alertmanager-shaped notification says of its group of alerts."""

    status: AlertStatus
    receiver: str = ""
    group_labels: LabelMap = Field(default_factory=dict, alias="groupLabels")
    common_labels: LabelMap = Field(default_factory=dict, alias="commonLabels")
    common_annotations: LabelMap = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")

    def as_webhook(
        self, group_key: str, alerts: Iterable[Alert], truncated_alerts: int = 0
    ) -> AlertmanagerWebhook:
        """This group as the Alertmanager body intake triages, validated as one from outside is."""
        return AlertmanagerWebhook.model_validate(
            {
                "version": "4",
                "groupKey": group_key,
                **self.model_dump(by_alias=True, include=set(AlertGroup.model_fields)),
                "truncatedAlerts": truncated_alerts,
                "alerts": [
                    alert.model_dump(by_alias=True, include=set(Alert.model_fields)) for alert in alerts
                ],
            }
        )


class AlertmanagerWebhook(AlertGroup):
    version: Literal["4"]
    group_key: str = Field(alias="groupKey")
    alerts: list[Alert]
    # How many alerts Alertmanager left out of this body (the receiver's `max_alerts`).
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")

    @field_validator("truncated_alerts")
    @classmethod
    def _bounded_count(cls, value: int) -> int:
        return min(max(value, 0), MAX_TRUNCATED_ALERTS)
