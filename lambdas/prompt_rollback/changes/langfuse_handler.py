"""POST /langfuse/events: prompt-version webhooks become `change` records in the audit ledger,
monitor alerts a rollback request or a skip with its reason. Langfuse retries a non-2xx and
disables the automation after repeated failures, so 4xx means "never", 503 "try again"."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, TypeAdapter, ValidationError

from prompt_rollback.changes import wiring as changes_wiring
from prompt_rollback.changes.langfuse_auth import require_langfuse_signature
from prompt_rollback.changes.recorder import LedgerBusy
from prompt_rollback.domain.langfuse_events import MAX_BODY_BYTES, PromptVersionEvent
from prompt_rollback.domain.langfuse_monitors import MonitorAlertEvent
from prompt_rollback.http_api.body import json_body, media_type
from prompt_rollback.http_api.environment import EnvironmentCheck
from prompt_rollback.http_api.problems import Problem, answer_problems, invalid_body, problem
from prompt_rollback.observability import logger, metrics
from prompt_rollback.settings import LangfuseEventsEnvironment

EVENTS_PATH = "/langfuse/events"

app = APIGatewayRestResolver()
app.use(middlewares=[EnvironmentCheck(LangfuseEventsEnvironment)])
answer_problems(app)
LangfuseEvent = Annotated[PromptVersionEvent | MonitorAlertEvent, Field(discriminator="type")]
_EVENT: TypeAdapter[PromptVersionEvent | MonitorAlertEvent] = TypeAdapter(LangfuseEvent)


def _location(loc: tuple[int | str, ...], error_type: str) -> str:
    """Where in the body, as the sender wrote it: without the union's tag, `type` for a bad tag."""
    if error_type in ("union_tag_invalid", "union_tag_not_found"):
        return "type"
    parts = loc[1:] if loc and loc[0] in ("prompt-version", "monitor-alert") else loc
    return ".".join(str(p) for p in parts)


@app.exception_handler(ValidationError)  # type: ignore[untyped-decorator]
def not_an_event(error: ValidationError) -> Response[Any]:
    expected = "body is not a Langfuse prompt-version or monitor-alert event (apiVersion v1)"
    return invalid_body(error, expected, _location)


@app.exception_handler(IdempotencyAlreadyInProgressError)  # type: ignore[untyped-decorator]
def in_progress(error: IdempotencyAlreadyInProgressError) -> Response[Any]:
    return problem(409, "this event is being recorded right now, retry later")


@app.exception_handler(LedgerBusy)  # type: ignore[untyped-decorator]
def ledger_busy(busy: LedgerBusy) -> Response[Any]:
    return problem(503, str(busy))


def _record(event: PromptVersionEvent | MonitorAlertEvent) -> dict[str, Any]:
    recording = changes_wiring.langfuse_event_recording()
    recording.config.register_lambda_context(app.lambda_context)
    try:
        return recording.run(event)
    except (IdempotencyAlreadyInProgressError, LedgerBusy):
        raise
    except Exception as error:
        logger.exception("could not record Langfuse event", extra={"error_type": type(error).__name__})
        raise Problem(503, "could not record the event, retry later") from error


@app.post(EVENTS_PATH, middlewares=[require_langfuse_signature])
def receive_langfuse_event() -> Response[Any]:
    if media_type(app.current_event) != "application/json":
        raise Problem(415, "Content-Type must be application/json")
    event = _EVENT.validate_json(json_body(app.current_event, MAX_BODY_BYTES))
    result = _record(event)
    if isinstance(event, MonitorAlertEvent):
        _account_monitor_alert(event, result)
    else:
        _account_change(event, result)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=result)


def _account_change(event: PromptVersionEvent, result: dict[str, Any]) -> None:
    if not result.get("replayed"):
        recorded = result["status"] == "recorded"
        name = "ChangesRecorded" if recorded else "LangfuseEventsIgnored"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info(
        "Langfuse event",
        extra={"prompt_name": event.prompt.name, "version": event.prompt.version, "action": event.action}
        | result,
    )


def _account_monitor_alert(event: MonitorAlertEvent, result: dict[str, Any]) -> None:
    """Answered 200 either way: a skip is an answer (with the reason), not a failure to retry."""
    if not result.get("replayed"):
        metrics.add_metric(name="AlertsReceived", unit=MetricUnit.Count, value=1)
        queued = result["status"] == "queued"
        metrics.add_metric(
            name="AlertsAccepted" if queued else "AlertsSkipped", unit=MetricUnit.Count, value=1
        )
        if result.get("misconfigured"):
            metrics.add_metric(name="AlertsMisconfigured", unit=MetricUnit.Count, value=1)
    logger.info(
        "Langfuse monitor alert",
        extra={"monitor_id": event.payload.monitor_id, "severity": event.payload.severity} | result,
    )


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
