"""EventBridge -> change records: Bedrock alias and SSM pointer changes that CloudTrail saw.

The rule (infra/change_recording.py) forwards only UpdateAgentAlias / UpdateFlowAlias on the
configured aliases and PutParameter on the configured pointer parameters. An event that cannot be
recorded now (ledger busy, SSM unreachable) raises: Lambda retries the asynchronous invocation and
then hands it to the rule's dead-letter queue, which has an alarm.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import envelopes, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from prompt_rollback import wiring
from prompt_rollback.domain.cloudtrail_changes import CloudTrailRecord
from prompt_rollback.observability import logger, metrics


def _own_role_arns() -> frozenset[str]:
    """The roles whose calls are our own rollbacks (the worker's), comma-separated in OWN_ROLE_ARNS."""
    return wiring.own_role_arns()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    record = parse(event=event, model=CloudTrailRecord, envelope=envelopes.EventBridgeEnvelope)
    if not isinstance(record, CloudTrailRecord):  # the EventBridge envelope always yields one detail
        raise TypeError("EventBridge event without a CloudTrail detail")
    outcome = wiring.change_recorder().record_cloudtrail(record, _own_role_arns(), wiring.parameter_value_at)
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
