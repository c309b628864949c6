"""POST /alerts: authenticate Alertmanager, validate its body, queue one request per firing alert.

Status codes are chosen for Alertmanager's retry rules: it retries 5xx and never retries 4xx,
so a 4xx means "this will never work" (bad token, bad body) and 5xx only "try again"
(the token secret or the queue is unreachable).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from prompt_rollback import wiring
from prompt_rollback.domain.alertmanager import AlertmanagerWebhook
from prompt_rollback.domain.intake import triage
from prompt_rollback.domain.requests import MAX_URL_LENGTH, cut
from prompt_rollback.domain.sources.grafana import parse_alert_body
from prompt_rollback.errors import ConfigurationError, EnqueueFailed
from prompt_rollback.observability import logger, metrics
from prompt_rollback.sources.bearer_auth import problem, require_bearer_token

MAX_BODY_BYTES = 1_048_576
JSON_CONTENT_TYPES = ("application/json", "application/x-json")

app = APIGatewayRestResolver()


def _parse_body() -> AlertmanagerWebhook | Response[Any]:
    event = app.current_event
    content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in JSON_CONTENT_TYPES:
        return problem(415, "Content-Type must be application/json")
    try:
        body = event.decoded_body or ""
    except ValueError:  # a base64 body (binary media type, local mode) that is not UTF-8
        return problem(400, "body is not valid JSON")
    if len(body.encode()) > MAX_BODY_BYTES:
        return problem(413, f"body larger than {MAX_BODY_BYTES} bytes")
    try:  # Grafana's optional HMAC signature, checked before the body is parsed
        signing = wiring.grafana_signing()
    except Exception:
        logger.exception("Grafana signing secret unavailable")
        return problem(503, "authentication backend unavailable, retry later")
    signed = signing is not None and bool(event.headers.get(signing.signature_header))
    if signing is not None and signed:
        refusal = signing.problem(body.encode(), event.headers, datetime.now(UTC))
        if refusal:
            return problem(401, refusal)
    try:
        source, parsed = parse_alert_body(body)
        if source == "grafana" and signing is not None and not signed:
            return problem(401, f"Grafana body without its {signing.signature_header} signature")
        return parsed
    except ValidationError as error:
        if any(e["type"] == "json_invalid" for e in error.errors()):
            return problem(400, "body is not valid JSON")
        # Locations and messages only: echoing the offending input back would reflect untrusted text.
        details = [
            {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"]}
            for e in error.errors(include_url=False, include_input=False)
        ]
        return problem(
            422,
            "body is not an Alertmanager (version 4) or Grafana (version 1) webhook",
            details=details[:20],
        )


@app.post("/alerts", middlewares=[require_bearer_token])
def receive_alerts() -> Response[Any]:
    parsed = _parse_body()
    if isinstance(parsed, Response):
        return parsed
    intake = triage(parsed, received_at=datetime.now(UTC))
    metrics.add_metric(name="AlertsReceived", unit=MetricUnit.Count, value=len(parsed.alerts))
    try:
        if intake.accepted:
            wiring.rollback_queue().enqueue(intake.accepted)
        if intake.resolved:  # each ends the recovery window of the rollback it may have caused
            wiring.rollback_queue().enqueue_resolutions(intake.resolved)
    except (EnqueueFailed, ConfigurationError) as error:
        logger.error("could not queue rollback requests", extra={"error": str(error)})
        return problem(503, "could not queue rollback requests, retry later")
    except Exception as error:
        logger.exception("could not queue rollback requests", extra={"error_type": type(error).__name__})
        return problem(503, "could not queue rollback requests, retry later")
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
    return Response(
        status_code=202,
        content_type=content_types.APPLICATION_JSON,
        body={"accepted": accepted, "skipped": skipped, "truncatedAlerts": intake.truncated_alerts},
    )


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
