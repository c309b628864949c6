"""The rollback worker: SQS FIFO batches from the webhook, or a forced rollback invoked by hand.

Manual use (an on-call engineer):

    aws lambda invoke --function-name <worker> --cli-binary-format raw-in-base64-out \\
      --payload '{"prompt": "support-answer", "to_version": 6, "reason": "bad answers", "actor": "jane"}' \\
      out.json

Retries are SQS's job: a retryable failure fails only its message (and, FIFO, the rest of its
prompt's group); the last allowed attempt audits the request as failed before it moves to the
dead-letter queue. Re-deliveries of one alert are absorbed by the idempotency record.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from prompt_rollback import wiring
from prompt_rollback.adapters.registry import RegistryError
from prompt_rollback.domain.bedrock_targets import target_labels_problem
from prompt_rollback.domain.interactions import (
    CliAction,
    RecoveryCheck,
    ResolutionSignal,
    SlackAction,
    parse_people_message,
)
from prompt_rollback.domain.policy import Outcome
from prompt_rollback.domain.requests import Provider, RollbackRequest
from prompt_rollback.observability import logger, metrics, tracer
from prompt_rollback.service import RollbackInProgress

processor = SqsFifoPartialProcessor(skip_group_on_error=True)

_OUTCOME_METRICS = {
    Outcome.ROLLED_BACK.value: "RollbacksDone",
    Outcome.SKIPPED.value: "RollbacksSkipped",
    Outcome.FAILED.value: "RollbacksFailed",
    Outcome.DRY_RUN.value: "RollbacksDryRun",
    Outcome.PROPOSED.value: "RollbacksProposed",
    Outcome.NEEDS_PERSON.value: "RollbacksNeedPerson",
}


class ManualRollback(BaseModel):
    """The payload of a forced rollback invoked by hand."""

    model_config = ConfigDict(extra="forbid")

    prompt: str
    to_version: int | None = Field(default=None, ge=1)
    from_version: int | None = Field(default=None, ge=1, description="only act if production is still here")
    reason: str = Field(min_length=1, max_length=2000)
    actor: str = Field(min_length=1, max_length=200)
    provider: Provider = "langfuse"
    dry_run: bool | None = None
    request_id: str | None = Field(default=None, description="reuse to make a retried invocation safe")
    target: dict[str, str] = Field(
        default_factory=dict,
        description="bedrock: the pointer, as the alert labels would name it (docs/bedrock.md)",
    )

    @model_validator(mode="after")
    def _target_names_a_pointer(self) -> ManualRollback:
        problem = target_labels_problem(self.provider, self.target)
        if problem:
            raise ValueError(problem)
        return self


class _Rollback(Protocol):
    def __call__(
        self, *, request: RollbackRequest, final_attempt: bool, from_queue: bool
    ) -> dict[str, Any]: ...


def _is_retryable(error: BaseException) -> bool:
    if isinstance(error, RollbackInProgress):
        return True
    if isinstance(error, RegistryError):
        return error.retryable
    # AWS and network trouble (throttling, timeouts) is worth another try; our own bugs too,
    # since the last attempt audits and parks the request anyway.
    return True


class ParkedInDeadLetterQueue(Exception):
    """Raised after the last attempt was audited as failed, so SQS moves the message to the DLQ."""


def _run(request: RollbackRequest, final_attempt: bool, from_queue: bool) -> dict[str, Any]:
    service = wiring.rollback_service()
    try:
        result = service.handle(request)
    except Exception as error:
        retryable = _is_retryable(error)
        if retryable and not final_attempt:
            raise
        logger.exception("rollback failed", extra={"rollback_id": request.request_id, "retryable": retryable})
        result = service.record_failure(request, error)
        if retryable and from_queue and result.outcome == Outcome.FAILED.value:
            # Audited and announced; the message itself is kept in the DLQ for a redrive.
            metrics.add_metric(name="RollbacksFailed", unit=MetricUnit.Count, value=1)
            raise ParkedInDeadLetterQueue(result.reason) from error
    return result.as_dict()


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    """A re-delivery answered from the idempotency record: nothing was decided now."""
    return {**response, "replayed": True}


@cache
def _idempotency() -> tuple[IdempotencyConfig, _Rollback]:
    """The idempotent rollback, built on first use (it needs the table name from the environment)."""
    settings = wiring.settings()
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.idempotency_table or wiring.required_setting("IDEMPOTENCY_TABLE_NAME"),
        boto_config=wiring.AWS_CLIENT_CONFIG,
    )
    config = IdempotencyConfig(
        event_key_jmespath="request_id",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings.idempotency_expiry_seconds,
        response_hook=_mark_replayed,
    )

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request", persistence_store=persistence, config=config
    )
    def rollback(*, request: RollbackRequest, final_attempt: bool, from_queue: bool) -> dict[str, Any]:
        return _run(request, final_attempt, from_queue)

    return config, rollback


def _account(result: dict[str, Any], request: RollbackRequest) -> dict[str, Any]:
    if result.get("replayed"):
        # Counted when it was decided; a re-delivery must not count a rollback twice.
        logger.info("re-delivered request answered from the idempotency record", extra=result)
        return result
    metrics.add_metric(
        name=_OUTCOME_METRICS.get(result["outcome"], "RollbacksSkipped"), unit=MetricUnit.Count, value=1
    )
    if result["outcome"] == Outcome.ROLLED_BACK.value and request.trigger is not None:
        seconds = (datetime.now(UTC) - request.trigger.starts_at).total_seconds()
        metrics.add_metric(name="AlertToRollbackSeconds", unit=MetricUnit.Seconds, value=max(seconds, 0.0))
    if result.get("slack") == "failed":
        metrics.add_metric(name="SlackFailures", unit=MetricUnit.Count, value=1)
    _schedule_check(result, request)
    logger.info("rollback decision", extra={"rollback_id": request.request_id, **result})
    return result


def _people(
    message: SlackAction | CliAction | ResolutionSignal | RecoveryCheck, final_attempt: bool
) -> dict[str, Any]:
    """A click or a resolution: the moves it asks for go through the same idempotent rollback."""
    from prompt_rollback import slack_wiring

    def run_rollback(request: RollbackRequest) -> dict[str, Any]:
        result = _idempotency()[1](request=request, final_attempt=final_attempt, from_queue=True)
        return _account(result, request)

    service = slack_wiring.interaction_service(run_rollback)
    if isinstance(message, SlackAction | CliAction):
        logger.append_keys(action_id=message.action_id, rollback_id=message.rollback_id)
        result = service.handle_action(message)
    elif isinstance(message, ResolutionSignal):
        result = service.handle_resolution(message)
    else:
        result = service.handle_check(message)
    metrics.add_metric(name=slack_wiring.people_metric(result.outcome), unit=MetricUnit.Count, value=1)
    logger.info("people-in-the-loop message handled", extra=result.as_dict())
    return result.as_dict()


def _schedule_check(result: dict[str, Any], request: RollbackRequest) -> None:
    """A rollback gets its recovery check, a proposal its expiry check (adapters/recovery_scheduler.py)."""
    from prompt_rollback import slack_wiring

    if result["outcome"] not in (Outcome.ROLLED_BACK.value, Outcome.PROPOSED.value):
        return
    if request.request_id.startswith("undo-"):
        return  # an undo restores what people had before: there is no alert to recover from
    try:
        slack_wiring.schedule_check(request, result["outcome"])
    except Exception:  # the rollback stands; the missing check is counted and alarmed on
        logger.exception("could not schedule the recovery check", extra={"rollback_id": request.request_id})
        metrics.add_metric(name="RecoveryCheckNotScheduled", unit=MetricUnit.Count, value=1)


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any]:
    attempt = int(record.attributes.approximate_receive_count or "1")
    final_attempt = attempt >= wiring.settings().max_receive_count
    people = parse_people_message(record.body)
    if people is not None:
        return _people(people, final_attempt)
    request = RollbackRequest.model_validate_json(record.body)
    logger.append_keys(rollback_id=request.request_id, prompt_name=request.prompt_name, attempt=attempt)
    return _account(_idempotency()[1](request=request, final_attempt=final_attempt, from_queue=True), request)


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
    return _people(action, final_attempt=True)


def _manual(event: dict[str, Any]) -> dict[str, Any]:
    try:
        manual = ManualRollback.model_validate(event)
        request = RollbackRequest(
            request_id=manual.request_id or f"manual-{uuid.uuid4().hex[:20]}",
            provider=manual.provider,
            prompt_name=manual.prompt,
            alerted_version=manual.from_version,
            rollback_to=manual.to_version,
            actor=manual.actor,
            reason=manual.reason,
            forced=True,
            dry_run=manual.dry_run,
            received_at=datetime.now(UTC),
            provider_target=manual.target,
        )
    except ValidationError as error:
        details = [
            {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]}
            for e in error.errors(include_url=False, include_input=False)
        ]
        return {"error": "invalid manual rollback request", "details": details}
    # Nobody retries a manual invocation for us: the first failure is audited and reported.
    return _account(_idempotency()[1](request=request, final_attempt=True, from_queue=False), request)


@logger.inject_lambda_context(
    clear_state=True
)  # keys appended per record must not leak into the next invocation
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _idempotency()[0].register_lambda_context(context)
    if "Records" in event:
        return process_partial_response(  # type: ignore[return-value]  # a TypedDict of the same shape
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    if "cli_action" in event:
        return _cli_action(event)
    return _manual(event)
