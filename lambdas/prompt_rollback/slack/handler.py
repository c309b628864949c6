"""POST /slack/actions: a signed button click (slack/signature.py), trusted only as "this person
clicked this button on this rollback id", queued on its prompt's FIFO group within Slack's 3
seconds. The worker re-reads the ledger and decides whether they may."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from prompt_rollback import wiring
from prompt_rollback.domain.interactions import ROLLBACK_ID, Click, SlackAction, action_id
from prompt_rollback.domain.rollout_messages import RolloutClick
from prompt_rollback.domain.rollout_slack import ROLLOUT_ACTIONS
from prompt_rollback.http_api.body import media_type
from prompt_rollback.http_api.environment import EnvironmentCheck
from prompt_rollback.http_api.problems import Problem, answer_problems, problem
from prompt_rollback.observability import logger, metrics
from prompt_rollback.settings import SlackActionsEnvironment
from prompt_rollback.slack.block_actions import BlockActionsPayload
from prompt_rollback.slack.rollout_clicks import clicked_id, rollout_click
from prompt_rollback.slack.signature import body_text, require_slack_signature

NOT_BLOCK_ACTIONS = "payload is not a Slack block_actions payload"

app = APIGatewayRestResolver()
app.use(middlewares=[EnvironmentCheck(SlackActionsEnvironment)])
answer_problems(app)


@app.exception_handler(ValidationError)  # type: ignore[untyped-decorator]
def not_block_actions(error: ValidationError) -> Response[Any]:
    return problem(400, NOT_BLOCK_ACTIONS)


def _parse(body: str) -> BlockActionsPayload:
    if media_type(app.current_event) != "application/x-www-form-urlencoded":
        raise Problem(415, "Content-Type must be application/x-www-form-urlencoded")
    try:
        payloads = parse_qs(body, max_num_fields=5).get("payload", [])
    except ValueError as error:  # more fields than a Slack interaction ever sends
        raise Problem(400, "too many form fields") from error
    if len(payloads) != 1:
        raise Problem(400, "expected one payload field")
    try:  # pydantic's JSON parser: bounded nesting, unlike json.loads (RecursionError)
        payload = BlockActionsPayload.model_validate_json(payloads[0])
    except ValueError as error:  # not JSON, or not ours (a ValidationError is a ValueError too)
        raise Problem(400, NOT_BLOCK_ACTIONS) from error
    if payload.type != "block_actions":
        raise Problem(400, f"unsupported interaction type {payload.type[:40]!r}")
    return payload


def _routed(payload: BlockActionsPayload) -> SlackAction | RolloutClick | None:
    """The click with its prompt, or None for a rollback (or rollout) id our ledger does not know."""
    clicked = payload.actions[0]
    try:
        click = None if clicked.action_id in ROLLOUT_ACTIONS else Click(clicked.action_id)
    except ValueError as error:
        raise Problem(400, "not one of our buttons") from error
    if not ROLLBACK_ID.fullmatch(clicked.value):
        raise Problem(400, "the button's value is not a rollback id")
    prompt_key = wiring.rollback_index().prompt_key_of(clicked.value)
    if prompt_key is None:
        logger.warning("click on an unknown rollback id", extra={"rollback_id": clicked.value})
        return None
    if click is None:
        return rollout_click(payload, prompt_key)
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
    routed = _routed(_parse(body_text(app)))
    if routed is not None:
        try:
            wiring.rollback_queue().enqueue_action(routed)
        except Exception as error:
            logger.exception("could not queue a Slack action", extra={"error_type": type(error).__name__})
            raise Problem(503, "could not queue the action, try again") from error
        metrics.add_metric(name="SlackActionsQueued", unit=MetricUnit.Count, value=1)
        logger.info(
            "Slack action queued",
            extra={"action_id": routed.action_id, "click": str(routed.click), "id": clicked_id(routed)},
        )
    # Slack ignores the body of a block_actions answer; the worker updates the message.
    return Response(status_code=200, content_type=content_types.TEXT_PLAIN, body="")


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
