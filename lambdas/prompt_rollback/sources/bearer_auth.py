"""Bearer-token authentication of POST /alerts, a Powertools middleware run before the body is read.
Tokens are compared stripped and in constant time; during a rotation the previous token
(AWSPREVIOUS) is accepted too, and `sources.wiring` remembers whether there is one."""

from __future__ import annotations

import hmac
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from prompt_rollback.http_api.problems import Problem
from prompt_rollback.observability import logger
from prompt_rollback.sources import wiring as sources_wiring


def require_bearer_token(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    header = app.current_event.headers.get("authorization") or ""
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise Problem(401, "missing Bearer token")
    try:
        expected = sources_wiring.webhook_token()
    except Exception as error:
        logger.exception("webhook token secret unavailable")
        raise Problem(503, "authentication backend unavailable, retry later") from error
    if not hmac.compare_digest(presented.strip().encode(), expected.encode()) and not _matches_previous(
        presented
    ):
        raise Problem(401, "invalid Bearer token")
    return next_middleware(app)


def _matches_previous(presented: str) -> bool:
    """During a token rotation, Alertmanagers may still send the previous token."""
    try:
        previous = sources_wiring.previous_webhook_token()
    except Exception:
        logger.exception("previous webhook token unavailable")
        return False
    return previous is not None and hmac.compare_digest(presented.strip().encode(), previous.encode())
