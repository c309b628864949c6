"""Bearer-token authentication of POST /alerts, a Powertools middleware run before the body is read.

The stored token and the presented one are compared stripped (a secret written with a trailing
newline still matches) and in constant time. During a rotation the previous token (AWSPREVIOUS)
is accepted too; whether there is one is remembered by `wiring`, so wrong tokens cost no calls.
"""

from __future__ import annotations

import hmac
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from prompt_rollback import wiring
from prompt_rollback.observability import logger


def problem(status: int, message: str, **extra: Any) -> Response[Any]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body={"error": message, **extra}
    )


def require_bearer_token(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    header = app.current_event.headers.get("authorization") or ""
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return problem(401, "missing Bearer token")
    try:
        expected = wiring.webhook_token()
    except Exception:
        logger.exception("webhook token secret unavailable")
        return problem(503, "authentication backend unavailable, retry later")
    if not hmac.compare_digest(presented.strip().encode(), expected.encode()) and not _matches_previous(
        presented
    ):
        return problem(401, "invalid Bearer token")
    return next_middleware(app)


def _matches_previous(presented: str) -> bool:
    """During a token rotation, Alertmanagers may still send the previous token."""
    try:
        previous = wiring.previous_webhook_token()
    except Exception:
        logger.exception("previous webhook token unavailable")
        return False
    return previous is not None and hmac.compare_digest(presented.strip().encode(), previous.encode())
