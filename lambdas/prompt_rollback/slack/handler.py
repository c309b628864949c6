"""POST /slack/actions: a button click from Slack, verified, then queued for the worker.

The signature is checked on the raw body (and a replay refused) before anything is parsed; the
click is trusted only as "this person clicked this button on this rollback id", and queued on
its prompt's FIFO group within Slack's 3 seconds. The worker re-reads the ledger and decides.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError
from slack_sdk.signature import SignatureVerifier

from prompt_rollback import wiring
from prompt_rollback.domain.interactions import ROLLBACK_ID, Click, SlackAction, action_id
from prompt_rollback.http_api.body import media_type, raw_body
from prompt_rollback.http_api.environment import EnvironmentCheck
from prompt_rollback.http_api.problems import Problem, answer_problems, problem
from prompt_rollback.observability import logger, metrics
from prompt_rollback.settings import SlackActionsEnvironment
from prompt_rollback.slack import wiring as slack_wiring
from prompt_rollback.slack.block_actions import BlockActionsPayload

MAX_BODY_BYTES = 64 * 1024  # a block_actions payload is a few KB; Slack's own limit is far below this
NOT_BLOCK_ACTIONS = "payload is not a Slack block_actions payload"

app = APIGatewayRestResolver()
app.use(middlewares=[EnvironmentCheck(SlackActionsEnvironment)])
answer_problems(app)


@app.exception_handler(ValidationError)  # type: ignore[untyped-decorator]
def not_block_actions(error: ValidationError) -> Response[Any]:
    return problem(400, NOT_BLOCK_ACTIONS)


def _text() -> str:
    try:
        return raw_body(app.current_event, MAX_BODY_BYTES).decode()
    except UnicodeDecodeError:  # cannot carry a valid signature
        return "\ufffd"


def _first_delivery(signature: str, timestamp: str) -> bool:
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
    body = _text()
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
        first = _first_delivery(signature, timestamp)
    except Exception as error:  # the replay memory (DynamoDB) is unreachable
        logger.exception("cannot tell a replay from a first delivery")
        raise Problem(503, "authentication backend unavailable, retry later") from error
    if not first:
        raise _refuse("replayed Slack request")
    return next_middleware(app)


def _parse(body: str) -> BlockActionsPayload:
    if media_type(app.current_event) != "application/x-www-form-urlencoded":
        raise Problem(415, "Content-Type must be application/x-www-form-urlencoded")
    payloads = parse_qs(body, max_num_fields=5).get("payload", [])
    if len(payloads) != 1:
        raise Problem(400, "expected one payload field")
    try:
        payload = BlockActionsPayload.model_validate(json.loads(payloads[0]))
    except ValueError as error:  # not JSON (a ValidationError is a ValueError too)
        raise Problem(400, NOT_BLOCK_ACTIONS) from error
    if payload.type != "block_actions":
        raise Problem(400, f"unsupported interaction type {payload.type[:40]!r}")
    return payload


def _routed(payload: BlockActionsPayload) -> SlackAction | None:
    """The click with its prompt, or None for a rollback id our ledger does not know."""
    clicked = payload.actions[0]
    try:
        click = Click(clicked.action_id)
    except ValueError as error:
        raise Problem(400, "not one of our buttons") from error
    if not ROLLBACK_ID.fullmatch(clicked.value):
        raise Problem(400, "the button's value is not a rollback id")
    prompt_key = wiring.rollback_index().prompt_key_of(clicked.value)
    if prompt_key is None:
        logger.warning("click on an unknown rollback id", extra={"rollback_id": clicked.value})
        return None
    provider, _, prompt_name = prompt_key.partition("#")
    return SlackAction(
        action_id=action_id(payload.team.id, payload.user.id, clicked.action_ts, click.value, clicked.value),
        click=click,
        rollback_id=clicked.value,
        provider=provider,
        prompt_name=prompt_name,
        user_id=payload.user.id,
        user_name=(payload.user.username or payload.user.name)[:200],
        channel_id=payload.channel.id[:40],
        clicked_at=datetime.now(UTC),
    )


@app.post("/slack/actions", middlewares=[require_slack_signature])
def receive_action() -> Response[Any]:
    routed = _routed(_parse(_text()))
    if routed is not None:
        try:
            wiring.rollback_queue().enqueue_action(routed)
        except Exception as error:
            logger.exception("could not queue a Slack action", extra={"error_type": type(error).__name__})
            raise Problem(503, "could not queue the action, try again") from error
        metrics.add_metric(name="SlackActionsQueued", unit=MetricUnit.Count, value=1)
        logger.info(
            "Slack action queued",
            extra={
                "action_id": routed.action_id,
                "click": routed.click.value,
                "rollback_id": routed.rollback_id,
            },
        )
    # Slack ignores the body of a block_actions answer; the worker updates the message.
    return Response(status_code=200, content_type=content_types.TEXT_PLAIN, body="")


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
