"""CloudWatch alarms: an EventBridge `CloudWatch Alarm State Change` event as one alert.
The alarm's metric names the prompt in its `PromptName` and `PromptVersion` dimensions
(docs/sources.md#cloudwatch-alarms); `ALARM` fires, `OK` resolves, `INSUFFICIENT_DATA` is skipped."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote as url_quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prompt_rollback.domain.alertmanager import AlertmanagerWebhook
from prompt_rollback.domain.intake import SkipKind, SkippedAlert
from prompt_rollback.domain.sources import Converted, problem_locations, quoted
from prompt_rollback.domain.times import WireTime

DETAIL_TYPE = "CloudWatch Alarm State Change"
EVENT_SOURCE = "aws.cloudwatch"
PROMPT_NAME_DIMENSION = "PromptName"
PROMPT_VERSION_DIMENSION = "PromptVersion"
# Metric dimension → the alert label intake reads.
DIMENSION_LABELS = {
    PROMPT_NAME_DIMENSION: "prompt_name",
    PROMPT_VERSION_DIMENSION: "prompt_version",
    "Provider": "provider",
    "Environment": "env",
    "BedrockAgentId": "bedrock_agent_id",
    "BedrockFlowId": "bedrock_flow_id",
    "BedrockAliasId": "bedrock_alias_id",
    "PromptParameter": "prompt_parameter",
}
CONVENTION_HINT = "docs/sources.md#cloudwatch-alarms"
MAX_TEXT = 4096


class _EventModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class AlarmMetric(_EventModel):
    namespace: str = ""
    name: str = ""
    dimensions: dict[str, str] = Field(default_factory=dict)


class AlarmMetricStat(_EventModel):
    metric: AlarmMetric


class AlarmMetricQuery(_EventModel):
    id: str = ""
    metric_stat: AlarmMetricStat | None = Field(default=None, alias="metricStat")
    expression: str = ""


class AlarmConfiguration(_EventModel):
    description: str = ""
    metrics: list[AlarmMetricQuery] = Field(default_factory=list)


class AlarmState(_EventModel):
    value: Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
    reason: str = ""
    timestamp: WireTime


class AlarmDetail(_EventModel):
    alarm_name: str = Field(alias="alarmName", min_length=1)
    state: AlarmState
    previous_state: AlarmState | None = Field(default=None, alias="previousState")
    configuration: AlarmConfiguration = Field(default_factory=AlarmConfiguration)


class AlarmStateChangeEvent(_EventModel):
    """The EventBridge event (AWS's documented shape: docs CloudWatch "Alarm events and EventBridge")."""

    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    source: Literal["aws.cloudwatch"]
    account: str = ""
    region: str = ""
    time: WireTime
    resources: list[str] = Field(min_length=1)
    detail: AlarmDetail

    @property
    def alarm_arn(self) -> str:
        return self.resources[0]


# Every EventBridge delivery of one state change maps to the same rollback id.
def alarm_fingerprint(alarm_arn: str, changed_at: datetime) -> str:
    """Stable across re-deliveries of one state change, different for the next one."""
    material = f"{alarm_arn}\x1f{changed_at.astimezone(UTC).isoformat()}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _dimensions(detail: AlarmDetail) -> dict[str, str] | str:
    """The prompt dimensions of the alarm's metrics, or why they do not name one prompt."""
    found: dict[str, str] = {}
    for query in detail.configuration.metrics:
        if query.metric_stat is None:
            continue
        for name, value in query.metric_stat.metric.dimensions.items():
            if name not in DIMENSION_LABELS:
                continue
            if name in found and found[name] != value:
                return (
                    f"the alarm's metrics disagree on dimension {name} "
                    f"({quoted(found[name])} vs {quoted(value)}): alarm on one prompt version"
                )
            found[name] = value
    return found


def fired_at(detail: AlarmDetail) -> datetime:
    """When the firing this state change is about began: an OK right after an ALARM resolves
    that ALARM, so it carries the ALARM's time (and so its fingerprint and rollback id)."""
    previous = detail.previous_state
    if detail.state.value == "OK" and previous is not None and previous.value == "ALARM":
        return previous.timestamp
    return detail.state.timestamp


def _skipped(fingerprint: str, alarm_name: str, reason: str, kind: SkipKind) -> Converted:
    return Converted("cloudwatch", None, [SkippedAlert(fingerprint, alarm_name, reason, kind)])


def convert_alarm_event(event: AlarmStateChangeEvent) -> Converted:
    """One alarm state change: a one-alert webhook body to triage, or why there is none."""
    detail = event.detail
    state = detail.state
    started = fired_at(detail)
    fingerprint = alarm_fingerprint(event.alarm_arn, started)
    alarm_name = quoted(detail.alarm_name)
    if state.value == "INSUFFICIENT_DATA":
        reason = "INSUFFICIENT_DATA: ignored (only ALARM rolls back; OK is logged as resolved)"
        return _skipped(fingerprint, alarm_name, reason, SkipKind.NOTHING_TO_DO)
    dimensions = _dimensions(detail)
    if isinstance(dimensions, str):
        return _skipped(fingerprint, alarm_name, dimensions, SkipKind.MISCONFIGURED)
    missing = [d for d in (PROMPT_NAME_DIMENSION, PROMPT_VERSION_DIMENSION) if not dimensions.get(d)]
    if missing:
        kind = "alarm" if detail.configuration.metrics else "composite alarm (no metric)"
        reason = (
            f"{kind} has no {' or '.join(missing)} dimension on its metric: publish the metric with "
            f"dimensions {PROMPT_NAME_DIMENSION} and {PROMPT_VERSION_DIMENSION} ({CONVENTION_HINT})"
        )
        return _skipped(fingerprint, alarm_name, reason, SkipKind.MISCONFIGURED)
    labels = {"alertname": detail.alarm_name, "alarm_arn": event.alarm_arn}
    labels.update({DIMENSION_LABELS[name]: value for name, value in dimensions.items()})
    summary = detail.configuration.description or state.reason
    try:
        body = AlertmanagerWebhook.model_validate(
            {
                "version": "4",
                "groupKey": f"cloudwatch:{event.alarm_arn}"[:MAX_TEXT],
                "status": "firing" if state.value == "ALARM" else "resolved",
                "receiver": "eventbridge",
                "externalURL": _console_url(event),
                "alerts": [
                    {
                        "status": "firing" if state.value == "ALARM" else "resolved",
                        "labels": labels,
                        "annotations": {"summary": summary[:MAX_TEXT], "reason": state.reason[:MAX_TEXT]},
                        "startsAt": started.astimezone(UTC).isoformat(),
                        "endsAt": state.timestamp.astimezone(UTC).isoformat()
                        if state.value == "OK"
                        else None,
                        "generatorURL": _console_url(event),
                        "fingerprint": fingerprint,
                    }
                ],
            }
        )
    except ValidationError as error:
        reason = (
            f"alarm does not fit the Alertmanager webhook model (problems at: {problem_locations(error)})"
        )
        return _skipped(fingerprint, alarm_name, reason, SkipKind.MISCONFIGURED)
    return Converted("cloudwatch", body)


def _console_url(event: AlarmStateChangeEvent) -> str:
    if not event.region:
        return ""
    return (
        f"https://{event.region}.console.aws.amazon.com/cloudwatch/home?region={event.region}"
        f"#alarmsV2:alarm/{url_quote(event.detail.alarm_name, safe='')}"
    )[:MAX_TEXT]
