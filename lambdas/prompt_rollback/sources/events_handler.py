"""AMP alerts (SNS) and CloudWatch alarms (EventBridge): converted (domain/sources/), triaged and
queued like POST /alerts. A failure raises, so Lambda retries the event and then parks it in the
function's dead-letter queue (alarmed); skips are logged, counted and returned with reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import SnsModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from prompt_rollback import wiring
from prompt_rollback.domain.intake import SkipKind, triage
from prompt_rollback.domain.sources import Converted
from prompt_rollback.domain.sources.amp_sns import convert_amp_message
from prompt_rollback.domain.sources.cloudwatch_alarm import (
    EVENT_SOURCE,
    AlarmStateChangeEvent,
    convert_alarm_event,
)
from prompt_rollback.observability import logger, metrics
from prompt_rollback.settings import AlertEventsEnvironment


class UnrecognisedEvent(ValueError):
    """Neither an SNS notification nor a CloudWatch alarm state change: a wiring mistake."""


def _converted(event: dict[str, Any]) -> list[Converted]:
    if "Records" in event:
        notification = parse(event=event, model=SnsModel)
        return [
            convert_amp_message(
                str(record.Sns.Message),
                {name: attribute.Value for name, attribute in (record.Sns.MessageAttributes or {}).items()},
                record.Sns.MessageId,
            )
            for record in notification.Records
        ]
    if event.get("source") == EVENT_SOURCE:
        return [convert_alarm_event(AlarmStateChangeEvent.model_validate(event))]
    raise UnrecognisedEvent("expected an SNS notification or a CloudWatch Alarm State Change event")


def handle(event: dict[str, Any]) -> dict[str, Any]:
    received_at = datetime.now(UTC)
    accepted: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for converted in _converted(event):
        intake = triage(converted.body, received_at, converted.source) if converted.body else None
        requests = intake.accepted if intake else []
        if requests:
            # Raises on failure: the event is retried, then dead-lettered (see the module docstring).
            wiring.rollback_queue().enqueue(requests)
        if intake and intake.resolved:  # an OK alarm or a resolved AMP alert ends a recovery window
            wiring.rollback_queue().enqueue_resolutions(intake.resolved)
        metrics.add_metric(
            name="AlertsReceived",
            unit=MetricUnit.Count,
            value=len(converted.body.alerts) if converted.body else len(converted.skipped),
        )
        metrics.add_metric(name="AlertsAccepted", unit=MetricUnit.Count, value=len(requests))
        set_aside = converted.skipped + (intake.skipped if intake else [])
        metrics.add_metric(name="AlertsSkipped", unit=MetricUnit.Count, value=len(set_aside))
        # The webhook's alarm on misconfigured alerts counts these too: same metric, same dimension.
        misconfigured = sum(1 for s in set_aside if s.kind is SkipKind.MISCONFIGURED)
        metrics.add_metric(name="AlertsMisconfigured", unit=MetricUnit.Count, value=misconfigured)
        accepted += [
            {
                "source": converted.source,
                "rollback_id": r.request_id,
                "fingerprint": r.trigger.fingerprint if r.trigger else "",
                "prompt_name": r.prompt_name,
                "prompt_version": r.alerted_version,  # a number, as /alerts answers it
            }
            for r in requests
        ]
        skipped += [
            {
                "source": converted.source,
                "fingerprint": s.fingerprint,
                "alertname": s.alertname,
                "reason": s.reason,
                "kind": s.kind.value,
            }
            for s in set_aside
        ]
    logger.info("alerts triaged", extra={"accepted": accepted, "skipped": skipped})
    return {"accepted": accepted, "skipped": skipped}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.environment(AlertEventsEnvironment)
    return handle(event)
