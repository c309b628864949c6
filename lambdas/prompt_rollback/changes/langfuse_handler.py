"""POST /langfuse/events: Langfuse prompt-version webhooks -> `change` records in the audit ledger;
Langfuse monitor alerts (`type: "monitor-alert"`) -> a rollback request on the queue, or a skip
with its reason (monitor_intake.py, domain/langfuse_monitors.py).

Order matters: the signature is checked on the raw bytes before anything parses them, so an
unsigned or forged body never reaches pydantic. Answers follow Langfuse's delivery rules (it
retries a non-2xx four times, then disables the automation after repeated failures): 401 for a
signature that does not verify, 400/413/415/422 for a body that never will, 503 only for "try
again" (secret or ledger unreachable), 200 for everything recorded or recognised as known.

A replayed request (same event id, within the signature's five minutes) is answered from the
idempotency record and changes nothing; after five minutes its signature has expired.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, TypeAdapter, ValidationError

from prompt_rollback import wiring
from prompt_rollback.changes.recorder import LedgerBusy
from prompt_rollback.domain import langfuse_signature
from prompt_rollback.domain.langfuse_events import MAX_BODY_BYTES, PromptVersionEvent
from prompt_rollback.domain.langfuse_monitors import MonitorAlertEvent
from prompt_rollback.observability import logger, metrics

EVENTS_PATH = "/langfuse/events"

app = APIGatewayRestResolver()
LangfuseEvent = Annotated[PromptVersionEvent | MonitorAlertEvent, Field(discriminator="type")]
_EVENT: TypeAdapter[PromptVersionEvent | MonitorAlertEvent] = TypeAdapter(LangfuseEvent)


def _problem(status: int, message: str, **extra: Any) -> Response[Any]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body={"error": message, **extra}
    )


def _raw_body() -> bytes | Response[Any]:
    """The bytes Langfuse signed. Bytes, not text: a body that is not UTF-8 still gets its 401
    for a bad signature before anything tries to decode it."""
    event = app.current_event
    body = event.body or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.is_base64_encoded else body.encode()
    except (binascii.Error, ValueError):
        return _problem(400, "body is not valid base64")
    if len(raw) > MAX_BODY_BYTES:
        return _problem(413, f"body larger than {MAX_BODY_BYTES} bytes")
    return raw


def _verify(raw: bytes) -> Response[Any] | None:
    try:
        secrets = wiring.langfuse_webhook_secrets()
    except Exception:
        logger.exception("Langfuse webhook secret unavailable")
        return _problem(503, "authentication backend unavailable, retry later")
    try:
        langfuse_signature.verify(
            app.current_event.headers.get(langfuse_signature.HEADER), raw, secrets, datetime.now(UTC)
        )
    except langfuse_signature.SignatureRejected as rejected:
        metrics.add_metric(name="LangfuseEventsRejected", unit=MetricUnit.Count, value=1)
        return _problem(401, str(rejected))
    return None


def _parse(raw: bytes) -> PromptVersionEvent | MonitorAlertEvent | Response[Any]:
    content_type = (app.current_event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return _problem(415, "Content-Type must be application/json")
    try:
        return _EVENT.validate_json(raw)
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            return _problem(400, "body is not valid JSON")
        details = [
            {"loc": _location(e["loc"], e["type"]), "msg": e["msg"]}
            for e in error.errors(include_url=False, include_input=False)
        ]
        return _problem(
            422,
            "body is not a Langfuse prompt-version or monitor-alert event (apiVersion v1)",
            details=details[:20],
        )


def _location(loc: tuple[int | str, ...], error_type: str) -> str:
    """Where in the body, as the sender wrote it: without the union's tag, `type` for a bad tag."""
    if error_type in ("union_tag_invalid", "union_tag_not_found"):
        return "type"
    parts = loc[1:] if loc and loc[0] in ("prompt-version", "monitor-alert") else loc
    return ".".join(str(p) for p in parts)


@app.post(EVENTS_PATH)
def receive_langfuse_event() -> Response[Any]:
    raw = _raw_body()
    if isinstance(raw, Response):
        return raw
    refused = _verify(raw)
    if refused is not None:
        return refused
    parsed = _parse(raw)
    if isinstance(parsed, Response):
        return parsed
    try:
        result: dict[str, Any] = wiring.langfuse_event_recording().run(parsed)
    except IdempotencyAlreadyInProgressError:
        return _problem(409, "this event is being recorded right now, retry later")
    except LedgerBusy as busy:
        return _problem(503, str(busy))
    except Exception as error:
        logger.exception("could not record Langfuse event", extra={"error_type": type(error).__name__})
        return _problem(503, "could not record the event, retry later")
    if isinstance(parsed, MonitorAlertEvent):
        return _monitor_answer(parsed, result)
    if not result.get("replayed"):
        metrics.add_metric(
            name="ChangesRecorded" if result["status"] == "recorded" else "LangfuseEventsIgnored",
            unit=MetricUnit.Count,
            value=1,
        )
    logger.info(
        "Langfuse event",
        extra={
            "prompt_name": parsed.prompt.name,
            "version": parsed.prompt.version,
            "action": parsed.action,
            **result,
        },
    )
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=result)


def _monitor_answer(event: MonitorAlertEvent, result: dict[str, Any]) -> Response[Any]:
    """200 either way: a skip is an answer (with the reason), not a failure Langfuse should retry."""
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
        extra={"monitor_id": event.payload.monitor_id, "severity": event.payload.severity, **result},
    )
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=result)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.langfuse_event_recording().config.register_lambda_context(context)
    return app.resolve(event, context)
