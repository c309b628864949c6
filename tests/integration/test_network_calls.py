"""How many network calls one warm rollback makes: 9 (docs/architecture.md says which and why),
counted where they arrive: botocore's before-call event (moto), the Langfuse-compatible server's
request log, the Slack server's attempts. SQS receive/delete belong to the event source."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import boto3
from prompt_rollback.domain.requests import RollbackRequest

from local_mode.lambda_runtime import sqs_event
from tests.integration.conftest import Stack, reset_wiring


def test_one_warm_rollback_makes_nine_network_calls(stack: Stack):
    # As deployed, where the Object Lock bucket exists: its anchors are written off the hot path
    # (the ledger stream's consumer), no longer by the worker (two PutObject more, 12 calls).
    boto3.client("s3").create_bucket(Bucket="trail-bucket", ObjectLockEnabledForBucket=True)
    stack.monkeypatch.setenv("ANCHOR_BUCKET_NAME", "trail-bucket")
    reset_wiring()
    aws: Counter[str] = Counter()
    session = boto3.session.Session()  # the default session the adapters' clients come from
    stack.monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    session.events.register(
        "before-call.*.*", lambda model, **_: aws.update([f"{model.service_model.service_name}.{model.name}"])
    )

    def rollback(request_id: str, prompt: str, alerted: int) -> dict:
        request = RollbackRequest(
            request_id=request_id, prompt_name=prompt, alerted_version=alerted, received_at=datetime.now(UTC)
        )
        message = {
            "MessageId": request_id,
            "ReceiptHandle": request_id,
            "Body": request.model_dump_json(),
            "Attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": "g"},
        }
        return stack.invoke_worker(
            sqs_event([message], "arn:aws:sqs:us-east-1:000000000000:q.fifo", "us-east-1")
        )

    for version in range(3):
        stack.langfuse.store.create("warm-up", f"v{version + 1}", labels=["production"])
    rollback("rb-warm-up", "warm-up", 3)  # builds the clients: a warm worker has them
    aws.clear()
    langfuse_before, slack_before = len(stack.langfuse.app.requests), stack.slack.attempts

    assert rollback("rb-counted", "support-answer", 7)["batchItemFailures"] == []
    assert stack.production() == 6
    langfuse = [method for method, _ in stack.langfuse.app.requests[langfuse_before:]]
    # The head with its guard summary; this request's records by its id (a re-delivery gets its
    # decision back); intent; the compare-before-swap (did a person's change land after our
    # intent? then their move wins); decision.
    assert dict(aws) == {"dynamodb.Query": 3, "dynamodb.PutItem": 2}
    # Versions (no change record names v7's predecessor), production; the move, whose answer is
    # the read-back (a label lives on one version at a time).
    assert langfuse == ["GET", "GET", "PATCH"]
    assert stack.slack.attempts - slack_before == 1
    assert sum(aws.values()) + len(langfuse) + 1 == 9
