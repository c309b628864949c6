"""Slack's request signature on POST /slack/actions, a Powertools middleware run before parsing.
v0 signatures within a 5-minute window (slack_sdk's SignatureVerifier), each admitted once:
a signature already seen is a replay and refused."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from slack_sdk.signature import SignatureVerifier

from prompt_rollback.http_api.body import raw_body
from prompt_rollback.http_api.problems import Problem
from prompt_rollback.observability import logger, metrics
from prompt_rollback.slack import wiring as slack_wiring

MAX_BODY_BYTES = 64 * 1024  # a block_actions payload is a few KB; Slack's own limit is far below this


def body_text(app: APIGatewayRestResolver) -> str:
    try:
        return raw_body(app.current_event, MAX_BODY_BYTES).decode()
    except UnicodeDecodeError:  # cannot carry a valid signature
        return "\ufffd"


def _first_delivery(app: APIGatewayRestResolver, signature: str, timestamp: str) -> bool:
    guard = slack_wiring.replay_guard()
    guard.config.register_lambda_context(app.lambda_context)
    try:
        answer = guard.run({"signature": signature, "timestamp": timestamp})
    except IdempotencyAlreadyInProgressError:
        return False  # the same request twice at once: one of them is a replay
    return not answer.get("replayed")


def _refuse(message: str) -> Problem:
    metrics.add_metric(name="SlackActionsRefused", unit=MetricUnit.Count, value=1)
    return Problem(401, message)


def require_slack_signature(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    headers = app.current_event.headers
    signature = headers.get("x-slack-signature") or ""
    timestamp = headers.get("x-slack-request-timestamp") or ""
    if not signature or not timestamp:
        raise Problem(401, "missing Slack signature")
    body = body_text(app)
    try:
        verifier = SignatureVerifier(slack_wiring.signing_secret())
    except Exception as error:
        logger.exception("Slack signing secret unavailable")
        raise Problem(503, "authentication backend unavailable, retry later") from error
    try:
        valid = verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except ValueError:  # a timestamp that is not a number
        valid = False
    if not valid:
        raise _refuse("invalid or expired Slack signature")
    try:
        first = _first_delivery(app, signature, timestamp)
    except Exception as error:  # the replay memory (DynamoDB) is unreachable
        logger.exception("cannot tell a replay from a first delivery")
        raise Problem(503, "authentication backend unavailable, retry later") from error
    if not first:
        raise _refuse("replayed Slack request")
    return next_middleware(app)
