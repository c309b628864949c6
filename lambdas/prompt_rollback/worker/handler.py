"""The rollback worker, composition root of the features: SQS FIFO batches of queue messages
(worker/messages.py), or a CLI action or a forced rollback invoked by hand (`cli rollback`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from prompt_rollback import deadline, wiring
from prompt_rollback.domain.interactions import CliAction
from prompt_rollback.domain.provenance import Authority
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.domain.rollout_messages import RolloutCommand
from prompt_rollback.errors import ConfigurationError, RollbackError
from prompt_rollback.observability import logger, metrics
from prompt_rollback.rollback import wiring as rollback_wiring
from prompt_rollback.rollback.accounting import account
from prompt_rollback.rollback.attempts import MANUAL, Attempt
from prompt_rollback.rollback.manual import ManualRollback
from prompt_rollback.worker import provenance
from prompt_rollback.worker.dispatch import dispatch
from prompt_rollback.worker.messages import parse_queue_message

# The body is parsed in record_handler, not by the processor (`model=`): the FIFO processor
# validates the records it skips after a failure outside its error handling, so one malformed
# body behind a failed message of its group would fail the whole batch, other groups included.
processor = SqsFifoPartialProcessor(skip_group_on_error=True)


class NoTimeLeft(RollbackError):
    """Not started: reported as a batch item failure, so SQS delivers it again."""

    retryable = True


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> dict[str, Any]:
    seconds = deadline.record_seconds(lambda_context.get_remaining_time_in_millis() / 1000)
    if seconds is None:
        raise NoTimeLeft("too little of the invocation left to start this record")
    receive_count = int(record.attributes.approximate_receive_count or "1")
    logger.append_keys(attempt=receive_count)
    message = parse_queue_message(record.body)
    if isinstance(message, RollbackRequest) and (message.forced or message.provenance is not None):
        return provenance.refuse_forced(message, provenance.sender_of(record))
    attempt = Attempt.of_delivery(receive_count, wiring.settings().max_receive_count)
    with deadline.within(seconds):
        return dispatch(message, attempt, provenance.of_queued(record, lambda_context))


def _invalid(what: str, error: ValidationError | None) -> dict[str, Any]:
    problems = error.errors(include_url=False, include_input=False) if error else []
    details = [{"loc": ".".join(str(part) for part in e["loc"]), "msg": e["msg"]} for e in problems]
    return {"error": f"invalid {what}", "details": details}


def _cli_action(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """`cli undo` / `cli approve` / `cli reject`: a click for people outside Slack."""
    try:
        action = CliAction.model_validate({**event["cli_action"], "clicked_at": datetime.now(UTC)})
    except ValidationError as error:
        return _invalid("CLI action", error)
    except TypeError:  # `cli_action` is not an object
        return _invalid("CLI action", None)
    return dispatch(action, MANUAL, provenance.of_invocation(context, Authority.IAM_INVOKE_AND_APPROVERS))


def _rollout_command(event: dict[str, Any]) -> dict[str, Any]:
    """`cli rollout …`, a Lambda invoke or a CI step: a person's rollout command."""
    try:
        command = RolloutCommand.model_validate({**event["rollout"], "received_at": datetime.now(UTC)})
    except ValidationError as error:
        return _invalid("rollout command", error)
    except TypeError:
        return _invalid("rollout command", None)
    return dispatch(command, MANUAL)


def _manual(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A forced rollback, answered at once and idempotent on its request_id."""
    try:
        request = ManualRollback.model_validate(event).request()
        vouched = provenance.of_invocation(context, Authority.IAM_INVOKE)
        request = request.model_copy(update={"provenance": vouched})
    except ValidationError as error:
        return _invalid("manual rollback request", error)
    try:
        wiring.registry_for(request.provider)  # a configuration error is reported before anything is written
        manual = rollback_wiring.manual_rollbacks()
        manual.config.register_lambda_context(context)
        return account(manual.run(request), request)
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
    try:
        if "rollout" in event:
            return _rollout_command(event)
        return _cli_action(event, context) if "cli_action" in event else _manual(event, context)
    except ConfigurationError as error:  # a person is waiting: name the variable, change nothing
        return {"error": "configuration error", "variable": error.variable, "detail": str(error)}
