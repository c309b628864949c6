"""The rollback worker: SQS FIFO batches from the webhook, or a forced rollback invoked by hand.

    aws lambda invoke --function-name <worker> --cli-binary-format raw-in-base64-out \\
      --payload '{"prompt": "support-answer", "to_version": 6, "reason": "bad answers", "actor": "jane"}' \\
      out.json

What a failed attempt becomes (retry, audit, dead-letter queue) is decided in rollback/attempts.py.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from prompt_rollback import wiring
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import ConfigurationError
from prompt_rollback.handlers.accounting import account
from prompt_rollback.handlers.manual import ManualRollback
from prompt_rollback.observability import logger, metrics
from prompt_rollback.rollback.attempts import Attempt, ParkedInDeadLetterQueue, run_attempt

processor = SqsFifoPartialProcessor(skip_group_on_error=True)


def record_handler(record: SQSRecord) -> dict[str, Any]:
    request = RollbackRequest.model_validate_json(record.body)
    receive_count = int(record.attributes.approximate_receive_count or "1")
    logger.append_keys(rollback_id=request.request_id, prompt_name=request.prompt_name, attempt=receive_count)
    attempt = Attempt.of_delivery(receive_count, wiring.settings().max_receive_count)
    try:
        result = run_attempt(wiring.rollback_service(), request, attempt)
    except ParkedInDeadLetterQueue as parked:
        logger.error("rollback failed on its last attempt: parked in the DLQ", extra=parked.result.as_dict())
        metrics.add_metric(name="RollbacksFailed", unit=MetricUnit.Count, value=1)
        raise
    return account(result.as_dict(), request)


def _manual(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        request = ManualRollback.model_validate(event).request()
    except ValidationError as error:
        details = [
            {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]}
            for e in error.errors(include_url=False, include_input=False)
        ]
        return {"error": "invalid manual rollback request", "details": details}
    try:
        wiring.registry_for(request.provider)  # a configuration error is reported before anything is written
        manual = wiring.manual_rollbacks()
        manual.config.register_lambda_context(context)
        return account(manual.run(request), request)
    except ConfigurationError as error:
        return {"error": "configuration error", "variable": error.variable, "detail": str(error)}
    except IdempotencyValidationError:
        return {"error": f"request_id {request.request_id} was already used for a different rollback"}
    except IdempotencyAlreadyInProgressError:
        return {"error": f"request_id {request.request_id} is being rolled back right now"}


@logger.inject_lambda_context(clear_state=True)  # keys appended per record must not leak into the next
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return process_partial_response(  # type: ignore[return-value]  # a TypedDict of the same shape
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    return _manual(event, context)
