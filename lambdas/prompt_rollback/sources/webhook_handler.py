"""POST /alerts: authenticate Alertmanager, validate its body, queue one request per firing alert.
Alertmanager retries 5xx and never 4xx: a 4xx means "this will never work" (bad token, bad body),
a 5xx only "try again" (the token secret or the queue is unreachable)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from prompt_rollback import wiring
from prompt_rollback.domain.alertmanager import AlertmanagerWebhook
from prompt_rollback.domain.intake import Intake, triage
from prompt_rollback.domain.requests import MAX_URL_LENGTH, cut
from prompt_rollback.domain.sources import SourceName
from prompt_rollback.domain.sources.grafana import parse_alert_body
from prompt_rollback.errors import ConfigurationError
from prompt_rollback.http_api.body import json_body, media_type
from prompt_rollback.http_api.environment import EnvironmentCheck
from prompt_rollback.http_api.problems import Problem, answer_problems, invalid_body
from prompt_rollback.observability import logger, metrics
from prompt_rollback.settings import WebhookEnvironment
from prompt_rollback.sources import wiring as sources_wiring
from prompt_rollback.sources.bearer_auth import require_bearer_token

MAX_BODY_BYTES = 1_048_576
JSON_CONTENT_TYPES = ("application/json", "application/x-json")

app = APIGatewayRestResolver()
app.use(middlewares=[EnvironmentCheck(WebhookEnvironment)])
answer_problems(app)


@app.exception_handler(ValidationError)  # type: ignore[untyped-decorator]
def not_a_webhook(error: ValidationError) -> Response[Any]:
    return invalid_body(error, "body is not an Alertmanager (version 4) or Grafana (version 1) webhook")


def _parse_body() -> tuple[SourceName, AlertmanagerWebhook]:
    event = app.current_event
    if media_type(event) not in JSON_CONTENT_TYPES:
        raise Problem(415, "Content-Type must be application/json")
    raw = json_body(event, MAX_BODY_BYTES)
    try:
        body = raw.decode()
    except UnicodeDecodeError as error:
        raise Problem(400, "body is not valid JSON") from error
    try:  # Grafana's optional HMAC signature, checked before the body is parsed
        signing = sources_wiring.grafana_signing()
    except ConfigurationError:  # the app's 503 naming the variable (http_api/problems.py)
        raise
    except Exception as error:
        logger.exception("Grafana signing secret unavailable")
        raise Problem(503, "authentication backend unavailable, retry later") from error
    signed = signing is not None and bool(event.headers.get(signing.signature_header))
    if signing is not None and signed:
        refusal = signing.problem(raw, event.headers, datetime.now(UTC))
        if refusal:
            raise Problem(401, refusal)
    source, parsed = parse_alert_body(body)
    if source == "grafana" and signing is not None and not signed:
        raise Problem(401, f"Grafana body without its {signing.signature_header} signature")
    return source, parsed


def _queue(intake: Intake) -> None:
    try:
        if intake.accepted:
            wiring.rollback_queue().enqueue(intake.accepted)
        if intake.resolved:  # each ends the recovery window of the rollback it may have caused
            wiring.rollback_queue().enqueue_resolutions(intake.resolved)
    except Exception as error:
        logger.exception("could not queue rollback requests", extra={"error_type": type(error).__name__})
        raise Problem(503, "could not queue rollback requests, retry later") from error


@app.post("/alerts", middlewares=[require_bearer_token])
def receive_alerts() -> Response[Any]:
    source, parsed = _parse_body()
    intake = triage(parsed, received_at=datetime.now(UTC), source=source)
    metrics.add_metric(name="AlertsReceived", unit=MetricUnit.Count, value=len(parsed.alerts))
    _queue(intake)
    metrics.add_metric(name="AlertsAccepted", unit=MetricUnit.Count, value=len(intake.accepted))
    metrics.add_metric(name="AlertsSkipped", unit=MetricUnit.Count, value=len(intake.skipped))
    # Alarmed on (infra/monitoring.py): a rule that can never roll back, alerts Alertmanager dropped.
    metrics.add_metric(name="AlertsMisconfigured", unit=MetricUnit.Count, value=intake.misconfigured)
    metrics.add_metric(name="AlertsTruncated", unit=MetricUnit.Count, value=intake.truncated_alerts)
    accepted = [
        {
            "rollback_id": r.request_id,
            "fingerprint": r.trigger.fingerprint if r.trigger else "",
            "prompt_name": r.prompt_name,
            "prompt_version": r.alerted_version,
        }
        for r in intake.accepted
    ]
    skipped = [
        {"fingerprint": s.fingerprint, "alertname": s.alertname, "reason": s.reason} for s in intake.skipped
    ]
    logger.info(
        "alerts triaged",
        extra={
            "group_key": cut(parsed.group_key, MAX_URL_LENGTH),
            "accepted": accepted,
            "skipped": skipped,
            "truncated_alerts": intake.truncated_alerts,
        },
    )
    body = {"accepted": accepted, "skipped": skipped, "truncatedAlerts": intake.truncated_alerts}
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=body)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
