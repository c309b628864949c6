"""DynamoDB stream of the audit ledger -> chain-head anchors. A record whose anchor cannot be
written is reported as a batch item failure (Lambda retries from it, then parks the batch) and
counted in AnchorWriteFailures; any MODIFY or REMOVE of a ledger item is counted in LedgerRewrites."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from prompt_rollback import wiring
from prompt_rollback.anchors import wiring as anchors_wiring
from prompt_rollback.anchors.service import AnchorOutcome
from prompt_rollback.domain.ledger_events import LedgerItemEvent
from prompt_rollback.domain.ledger_schema import PARTITION_KEY, SORT_KEY
from prompt_rollback.observability import logger, metrics
from prompt_rollback.settings import AnchorsEnvironment

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def ledger_item_event(record: DynamoDBRecord) -> LedgerItemEvent:
    if record.event_name is None or record.dynamodb is None:
        raise ValueError("a stream record without an event name or item")
    keys, image = record.dynamodb.keys, record.dynamodb.new_image
    return LedgerItemEvent(
        event_name=record.event_name.name,  # type: ignore[arg-type]  # INSERT | MODIFY | REMOVE
        prompt_key=str(keys[PARTITION_KEY]),
        seq=int(keys[SORT_KEY]),
        hash=str(image["hash"]) if image.get("hash") else None,
    )


def record_handler(record: DynamoDBRecord) -> AnchorOutcome:
    event = ledger_item_event(record)
    where = {"prompt_key": event.prompt_key, "seq": event.seq, "event_name": event.event_name}
    try:
        outcome = anchors_wiring.anchor_writer().handle(event)
    except Exception:
        metrics.add_metric(name="AnchorWriteFailures", unit=MetricUnit.Count, value=1)
        logger.exception("chain head not anchored; the stream record is retried", extra=where)
        raise
    if outcome == "history_rewritten":
        metrics.add_metric(name="LedgerRewrites", unit=MetricUnit.Count, value=1)
        logger.error("an audit ledger item was modified or removed", extra=where)
    return outcome


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.environment(AnchorsEnvironment)
    return process_partial_response(  # type: ignore[return-value]  # a TypedDict of the same shape
        event=event, record_handler=record_handler, processor=processor, context=context
    )
