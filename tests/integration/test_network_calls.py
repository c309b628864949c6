"""Network calls of one warm rollback of an alert: 6 when the ledger names the previous production, 7
when it lists versions (docs/architecture.md), counted where they arrive: botocore's before-call event
(moto), the Langfuse server's request log, the Slack server's attempts (SQS belongs to the event source)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from prompt_rollback.domain.ledger_schema import BY_REQUEST_ID_INDEX
from prompt_rollback.domain.policy import GUESSED_TARGET
from prompt_rollback.domain.requests import RollbackRequest, Trigger, alert_request_id

from local_mode.lambda_runtime import sqs_event
from tests.integration.conftest import Stack
from tests.integration.person_moves import hear_langfuse_webhooks, person_moves_production

PROMPTS = "/api/public/v2/prompts"  # GET: the version list (`?name=`)
PRODUCTION = "/api/public/v2/prompts/support-answer"  # GET: `?label=production`
MOVE = "/api/public/v2/prompts/support-answer/versions/6"  # PATCH: its answer is the read-back


def rollback(stack: Stack, fingerprint: str, prompt: str, alerted: int) -> dict:
    """The worker handles one alert as the webhook queues it: its id made from its fingerprint
    and startsAt."""
    now = datetime.now(UTC)
    trigger = Trigger(
        alertname="PromptRegression", fingerprint=fingerprint, starts_at=now - timedelta(minutes=3)
    )
    request = RollbackRequest(
        request_id=alert_request_id("langfuse", prompt, fingerprint, trigger.starts_at),
        prompt_name=prompt,
        alerted_version=alerted,
        trigger=trigger,
        received_at=now,
    )
    message = {
        "MessageId": fingerprint,
        "ReceiptHandle": fingerprint,
        "Body": request.model_dump_json(),
        "Attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": "g"},
    }
    return stack.invoke_worker(sqs_event([message], "arn:aws:sqs:us-east-1:000000000000:q.fifo", "us-east-1"))


@pytest.mark.parametrize(
    ("on_record", "langfuse_calls", "total"),
    [
        # Alice's move v6 -> v7 is on record: v6 held production before, the list adds nothing.
        (True, [("GET", PRODUCTION), ("PATCH", MOVE)], 6),
        # Nothing names v7's predecessor: the target is chosen from the versions Langfuse lists.
        (False, [("GET", PROMPTS), ("GET", PRODUCTION), ("PATCH", MOVE)], 7),
    ],
)
def test_one_warm_rollback_makes_six_network_calls_when_the_ledger_names_the_target(
    stack: Stack, on_record: bool, langfuse_calls: list[tuple[str, str]], total: int
):
    # As deployed, where the Object Lock bucket exists: its anchors are written off the hot path
    # (the ledger stream's consumer), no longer by the worker (two PutObject more).
    boto3.client("s3").create_bucket(Bucket="trail-bucket", ObjectLockEnabledForBucket=True)
    stack.monkeypatch.setenv("ANCHOR_BUCKET_NAME", "trail-bucket")
    hear_langfuse_webhooks(stack)
    aws: Counter[str] = Counter()
    indexes: list[str] = []
    session = boto3.session.Session()  # the default session the adapters' clients come from
    stack.monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    session.events.register(
        "before-call.*.*", lambda model, **_: aws.update([f"{model.service_model.service_name}.{model.name}"])
    )
    # The call's own parameters, before they are serialized: which index a Query asks.
    session.events.register(
        "before-parameter-build.dynamodb.Query",
        lambda params, **_: indexes.append(params.get("IndexName", "")),
    )

    if on_record:
        stack.langfuse.store.set_labels("support-answer", 6, ["production"])
        person_moves_production(stack, "support-answer", 7)
    for version in range(3):
        stack.langfuse.store.create("warm-up", f"v{version + 1}", labels=["production"])
    rollback(stack, "f-warm-up", "warm-up", 3)  # builds the clients: a warm worker has them
    aws.clear()
    indexes.clear()
    langfuse_before, slack_before = len(stack.langfuse.app.requests), stack.slack.attempts

    assert rollback(stack, "f-counted", "support-answer", 7)["batchItemFailures"] == []
    assert stack.production() == 6
    langfuse = stack.langfuse.app.requests[langfuse_before:]
    # The head with its guard summary, whose list of requests shows this one has no records yet
    # (a re-delivery gets its decision back); intent; decision.
    assert dict(aws) == {"dynamodb.Query": 1, "dynamodb.PutItem": 2}
    assert len(indexes) == 1 and BY_REQUEST_ID_INDEX not in indexes
    # The versions only when no record names v7's predecessor; production, read after the intent
    # (the compare before the swap: a person's move wins); the move, whose answer is the read-back
    # (a label lives on one version at a time).
    assert langfuse == langfuse_calls
    assert stack.slack.attempts - slack_before == 1
    assert sum(aws.values()) + len(langfuse) + 1 == total
    [decision] = stack.decisions()
    assert (decision["outcome"], decision["to_version"]) == ("rolled_back", 6)
    assert (GUESSED_TARGET in decision["basis"]) is not on_record
