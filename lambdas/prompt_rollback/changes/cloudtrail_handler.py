"""EventBridge -> change records: Bedrock alias and SSM pointer changes that CloudTrail saw.
The rule (infra/change_recording.py) forwards only the configured aliases and parameters. An event
that cannot be recorded now raises: Lambda retries it, then the rule's dead-letter queue takes it."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import envelopes, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from prompt_rollback import wiring
from prompt_rollback.changes import wiring as changes_wiring
from prompt_rollback.domain.cloudtrail_changes import CloudTrailRecord
from prompt_rollback.observability import logger, metrics
from prompt_rollback.settings import CloudTrailEnvironment


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.environment(CloudTrailEnvironment)
    record = parse(event=event, model=CloudTrailRecord, envelope=envelopes.EventBridgeEnvelope)
    if not isinstance(record, CloudTrailRecord):  # the EventBridge envelope always yields one detail
        raise TypeError("EventBridge event without a CloudTrail detail")
    outcome = changes_wiring.change_recorder().record_cloudtrail(
        record, changes_wiring.own_role_arns(), changes_wiring.parameter_value_at
    )
    result: dict[str, Any] = {
        "event_id": record.event_id,
        "request_id": record.request_id,
        "status": outcome.status,
        "detail": outcome.detail,
        "seq": outcome.seq,
    }
    metrics.add_metric(
        name="ChangesRecorded" if outcome.status == "recorded" else "CloudTrailEventsIgnored",
        unit=MetricUnit.Count,
        value=1,
    )
    logger.info("CloudTrail pointer change", extra={"event_name": record.event_name, **result})
    return result
