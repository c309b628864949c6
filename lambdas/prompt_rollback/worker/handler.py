"""The rollback worker: SQS FIFO batches from the webhook, or a forced rollback invoked by hand.

    aws lambda invoke --function-name <worker> --cli-binary-format raw-in-base64-out \\
      --payload '{"prompt": "support-answer", "to_version": 6, "reason": "bad answers", "actor": "jane"}' \\
      out.json

What a failed attempt becomes (retry, audit, dead-letter queue) is decided in rollback/attempts.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
from prompt_rollback.domain.interactions import (
    CliAction,
    RecoveryCheck,
    ResolutionSignal,
    SlackAction,
    parse_people_message,
)
from prompt_rollback.domain.policy import Outcome
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import ConfigurationError
from prompt_rollback.observability import logger, metrics
from prompt_rollback.rollback import wiring as rollback_wiring
from prompt_rollback.rollback.accounting import account
from prompt_rollback.rollback.attempts import MANUAL, Attempt, ParkedInDeadLetterQueue, run_attempt
from prompt_rollback.rollback.manual import ManualRollback
from prompt_rollback.slack import wiring as slack_wiring

processor = SqsFifoPartialProcessor(skip_group_on_error=True)


def _rollback(request: RollbackRequest, attempt: Attempt) -> dict[str, Any]:
    try:
        result = run_attempt(rollback_wiring.rollback_service(), request, attempt)
    except ParkedInDeadLetterQueue as parked:
        logger.error("rollback failed on its last attempt: parked in the DLQ", extra=parked.result.as_dict())
        metrics.add_metric(name="RollbacksFailed", unit=MetricUnit.Count, value=1)
        raise
    answer = account(result.as_dict(), request)
    if not result.replayed:
        _schedule_check(answer, request)
    return answer


def _schedule_check(result: dict[str, Any], request: RollbackRequest) -> None:
    """A rollback gets its recovery check, a proposal its expiry check (adapters/recovery_scheduler.py)."""
    if result["outcome"] not in (Outcome.ROLLED_BACK.value, Outcome.PROPOSED.value):
        return
    if request.request_id.startswith("undo-"):
        return  # an undo restores what people had before: there is no alert to recover from
    try:
        slack_wiring.schedule_check(request, result["outcome"])
    except Exception:  # the rollback stands; the missing check is counted and alarmed on
        logger.exception("could not schedule the recovery check", extra={"rollback_id": request.request_id})
        metrics.add_metric(name="RecoveryCheckNotScheduled", unit=MetricUnit.Count, value=1)


def _people(
    message: SlackAction | CliAction | ResolutionSignal | RecoveryCheck, attempt: Attempt
) -> dict[str, Any]:
    """A click, a resolution or a recovery check: the moves a click asks for are rollback
    requests of their own (deterministic ids), run like any other."""
    service = slack_wiring.interaction_service(lambda request: _rollback(request, attempt))
    if isinstance(message, SlackAction | CliAction):
        logger.append_keys(action_id=message.action_id, rollback_id=message.rollback_id)
        results = [service.handle_action(message)]
    elif isinstance(message, ResolutionSignal):
        results = service.handle_resolution(message)
    else:
        results = [service.handle_check(message)]
    for result in results:
        metrics.add_metric(name=slack_wiring.people_metric(result.outcome), unit=MetricUnit.Count, value=1)
        logger.info("people-in-the-loop message handled", extra=result.as_dict())
    return results[0].as_dict() if len(results) == 1 else {"results": [r.as_dict() for r in results]}


def record_handler(record: SQSRecord) -> dict[str, Any]:
    receive_count = int(record.attributes.approximate_receive_count or "1")
    attempt = Attempt.of_delivery(receive_count, wiring.settings().max_receive_count)
    people = parse_people_message(record.body)
    if people is not None:
        return _people(people, attempt)
    request = RollbackRequest.model_validate_json(record.body)
    logger.append_keys(rollback_id=request.request_id, prompt_name=request.prompt_name, attempt=receive_count)
    return _rollback(request, attempt)


def _cli_action(event: dict[str, Any]) -> dict[str, Any]:
    """`cli undo` / `cli approve` / `cli reject`: a click for people outside Slack."""
    try:
        action = CliAction.model_validate({**event["cli_action"], "clicked_at": datetime.now(UTC)})
    except (ValidationError, TypeError) as error:
        details = (
            [
                {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]}
                for e in error.errors(include_url=False, include_input=False)
            ]
            if isinstance(error, ValidationError)
            else []
        )
        return {"error": "invalid CLI action", "details": details}
    try:
        return _people(action, MANUAL)
    except ConfigurationError as error:
        return {"error": "configuration error", "variable": error.variable, "detail": str(error)}


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
        manual = rollback_wiring.manual_rollbacks()
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
    if "cli_action" in event:
        return _cli_action(event)
    return _manual(event, context)
