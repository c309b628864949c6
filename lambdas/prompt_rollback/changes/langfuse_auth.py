"""Langfuse's webhook signature on POST /langfuse/events, a Powertools middleware run before the
body is parsed: an unsigned or forged body never reaches pydantic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.metrics import MetricUnit

from prompt_rollback.changes import wiring as changes_wiring
from prompt_rollback.domain import langfuse_signature
from prompt_rollback.domain.langfuse_events import MAX_BODY_BYTES
from prompt_rollback.http_api.body import raw_body
from prompt_rollback.http_api.problems import Problem
from prompt_rollback.observability import logger, metrics


def require_langfuse_signature(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    # Bytes, not text: a body that is not UTF-8 still gets its 401 before anything decodes it.
    raw = raw_body(app.current_event, MAX_BODY_BYTES)
    try:
        secrets = changes_wiring.langfuse_webhook_secrets()
    except Exception as error:
        logger.exception("Langfuse webhook secret unavailable")
        raise Problem(503, "authentication backend unavailable, retry later") from error
    try:
        langfuse_signature.verify(
            app.current_event.headers.get(langfuse_signature.HEADER), raw, secrets, datetime.now(UTC)
        )
    except langfuse_signature.SignatureRejected as rejected:
        metrics.add_metric(name="LangfuseEventsRejected", unit=MetricUnit.Count, value=1)
        raise Problem(401, str(rejected)) from rejected
    return next_middleware(app)
