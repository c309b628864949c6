"""POST /slack/actions: a button click from Slack, verified, then queued for the worker.

Order matters: the signature (v0, 5-minute window, slack_sdk's SignatureVerifier) is checked on
the raw body before anything is parsed, and a signature already seen is refused (a replay inside
the window). Only then is the form-encoded `payload=` JSON read, the rollback id looked up in our
ledger to find its prompt, and the click queued on that prompt's FIFO message group: Slack wants
an answer within 3 seconds, and the worker, one prompt at a time, does the rest. Nothing the
client sent is trusted beyond "this person clicked this button on this rollback id"; the worker
re-reads the ledger and decides whether they may.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.signature import SignatureVerifier

from prompt_rollback import wiring
from prompt_rollback.domain.interactions import ROLLBACK_ID, Click, SlackAction, action_id
from prompt_rollback.observability import logger, metrics
from prompt_rollback.slack import wiring as slack_wiring

MAX_BODY_BYTES = 64 * 1024  # a block_actions payload is a few KB; Slack's own limit is far below this
SIGNATURE_WINDOW_SECONDS = 5 * 60  # SignatureVerifier's window; replays are remembered a bit longer
REPLAY_MEMORY_SECONDS = 2 * SIGNATURE_WINDOW_SECONDS + 60

app = APIGatewayRestResolver()


class _User(BaseModel):
    id: str
    username: str = ""
    name: str = ""


class _Team(BaseModel):
    id: str = ""


class _Channel(BaseModel):
    id: str = ""


class _Action(BaseModel):
    action_id: str
    value: str = ""
    action_ts: str = ""


class BlockActionsPayload(BaseModel):
    """The parts of Slack's block_actions payload we read (the rest is ignored, never trusted)."""

    model_config = ConfigDict(extra="ignore")

    type: str
    user: _User
    team: _Team = Field(default_factory=_Team)
    channel: _Channel = Field(default_factory=_Channel)
    actions: list[_Action] = Field(min_length=1, max_length=1)


def _problem(status: int, message: str) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body={"error": message})


def _raw_body() -> str:
    try:
        return app.current_event.decoded_body or ""
    except ValueError:  # base64 that is not UTF-8: cannot carry a valid signature
        return "\ufffd"


class _Admit(Protocol):
    def __call__(self, *, delivery: dict[str, str]) -> dict[str, Any]: ...


def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "replayed": True}


@cache
def _replay_guard() -> tuple[IdempotencyConfig, _Admit]:
    """Each signature is admitted once: Powertools' idempotency record (DynamoDB, conditional
    put) remembers it for longer than the verifier's window, so a replay inside it is refused."""
    settings = wiring.settings()
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.require("IDEMPOTENCY_TABLE_NAME"),
        boto_config=wiring.AWS_CLIENT_CONFIG,
    )
    config = IdempotencyConfig(
        event_key_jmespath="signature",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=REPLAY_MEMORY_SECONDS,
        response_hook=_mark_replayed,
    )

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="delivery", persistence_store=persistence, config=config
    )
    def admit(*, delivery: dict[str, str]) -> dict[str, Any]:
        return {"admitted": True}

    return config, admit


def _first_delivery(signature: str, timestamp: str) -> bool:
    config, admit = _replay_guard()
    config.register_lambda_context(app.lambda_context)
    try:
        answer = admit(delivery={"signature": signature, "timestamp": timestamp})
    except IdempotencyAlreadyInProgressError:
        return False  # the same request twice at once: one of them is a replay
    return not answer.get("replayed")


def require_slack_signature(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    headers = app.current_event.headers
    signature = headers.get("x-slack-signature") or ""
    timestamp = headers.get("x-slack-request-timestamp") or ""
    if not signature or not timestamp:
        return _problem(401, "missing Slack signature")
    body = _raw_body()
    if len(body.encode()) > MAX_BODY_BYTES:
        return _problem(413, f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        verifier = SignatureVerifier(slack_wiring.signing_secret())
    except Exception:
        logger.exception("Slack signing secret unavailable")
        return _problem(503, "authentication backend unavailable, retry later")
    try:
        valid = verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
    except ValueError:  # a timestamp that is not a number
        valid = False
    if not valid:
        metrics.add_metric(name="SlackActionsRefused", unit=MetricUnit.Count, value=1)
        return _problem(401, "invalid or expired Slack signature")
    try:
        first = _first_delivery(signature, timestamp)
    except Exception:  # the replay memory (DynamoDB) is unreachable or not configured
        logger.exception("cannot tell a replay from a first delivery")
        return _problem(503, "authentication backend unavailable, retry later")
    if not first:
        metrics.add_metric(name="SlackActionsRefused", unit=MetricUnit.Count, value=1)
        return _problem(401, "replayed Slack request")
    return next_middleware(app)


def _parse(body: str) -> BlockActionsPayload | Response[Any]:
    content_type = (app.current_event.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return _problem(415, "Content-Type must be application/x-www-form-urlencoded")
    fields = parse_qs(body, max_num_fields=5)
    payloads = fields.get("payload", [])
    if len(payloads) != 1:
        return _problem(400, "expected one payload field")
    try:
        payload = BlockActionsPayload.model_validate(json.loads(payloads[0]))
    except (ValueError, ValidationError):
        return _problem(400, "payload is not a Slack block_actions payload")
    if payload.type != "block_actions":
        return _problem(400, f"unsupported interaction type {payload.type[:40]!r}")
    return payload


@app.post("/slack/actions", middlewares=[require_slack_signature])
def receive_action() -> Response[Any]:
    parsed = _parse(_raw_body())
    if isinstance(parsed, Response):
        return parsed
    clicked = parsed.actions[0]
    try:
        click = Click(clicked.action_id)
    except ValueError:
        return _problem(400, "not one of our buttons")
    if not ROLLBACK_ID.fullmatch(clicked.value):
        return _problem(400, "the button's value is not a rollback id")
    prompt_key = slack_wiring.rollback_index().prompt_key_of(clicked.value)
    if prompt_key is None:
        logger.warning("click on an unknown rollback id", extra={"rollback_id": clicked.value})
        return Response(status_code=200, content_type=content_types.TEXT_PLAIN, body="")
    provider, _, prompt_name = prompt_key.partition("#")
    try:
        routed = SlackAction(
            action_id=action_id(
                parsed.team.id, parsed.user.id, clicked.action_ts, click.value, clicked.value
            ),
            click=click,
            rollback_id=clicked.value,
            provider=provider,
            prompt_name=prompt_name,
            user_id=parsed.user.id,
            user_name=(parsed.user.username or parsed.user.name)[:200],
            channel_id=parsed.channel.id[:40],
            clicked_at=datetime.now(UTC),
        )
    except ValidationError:
        return _problem(400, "payload is not a Slack block_actions payload")
    try:
        wiring.rollback_queue().enqueue_action(routed)
    except Exception as error:
        logger.exception("could not queue a Slack action", extra={"error_type": type(error).__name__})
        return _problem(503, "could not queue the action, try again")
    metrics.add_metric(name="SlackActionsQueued", unit=MetricUnit.Count, value=1)
    logger.info(
        "Slack action queued",
        extra={"action_id": routed.action_id, "click": routed.click.value, "rollback_id": routed.rollback_id},
    )
    # Slack ignores the body of a block_actions answer; the worker updates the message.
    return Response(status_code=200, content_type=content_types.TEXT_PLAIN, body="")


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
