"""The invariant every fault test ends with: the request was rolled back exactly once, or it is
parked in the dead-letter queue and (where the ledger could still be written) audited as failed."""

from __future__ import annotations

import boto3
from prompt_rollback.domain.audit import verify_chain

from local_mode.lambda_runtime import SqsPoller
from tests.integration.conftest import Stack

PROMPT = "support-answer"


def attempt_once(stack: Stack) -> int:
    """One receive + worker invocation, as the SQS event source would do it; returns messages seen."""
    from prompt_rollback.worker import handler as worker

    return SqsPoller(stack.resources.queue_url, worker.lambda_handler, wait_seconds=0).poll_once()


def redrive_dead_letters(stack: Stack) -> int:
    """What on-call does once the cause is fixed: move the DLQ's messages back to the queue."""
    sqs = boto3.client("sqs")
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=stack.resources.dlq_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return moved
        for message in messages:
            sqs.send_message(
                QueueUrl=stack.resources.queue_url,
                MessageBody=message["Body"],
                MessageGroupId=message["Attributes"]["MessageGroupId"],
                # A new id: the original one is still inside SQS's 5-minute de-duplication window.
                MessageDeduplicationId=f"redrive-{message['MessageId']}",
            )
            sqs.delete_message(QueueUrl=stack.resources.dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def assert_rolled_back_once(stack: Stack, moves: list, from_version: int = 7, to_version: int = 6) -> dict:
    records = stack.audit(PROMPT)
    assert verify_chain(records) == []
    decisions = [r for r in records if r["kind"] == "decision"]
    assert [d["outcome"] for d in decisions] == ["rolled_back"], decisions
    assert (decisions[0]["from_version"], decisions[0]["to_version"]) == (from_version, to_version)
    assert moves == [(PROMPT, from_version, to_version)]
    assert stack.production(PROMPT) == to_version
    assert stack.queue_depth(stack.resources.queue_url) == 0
    assert stack.queue_depth(stack.resources.dlq_url) == 0
    return decisions[0]


def assert_parked_and_audited_as_failed(stack: Stack, moves: list, production: int = 7) -> dict:
    records = stack.audit(PROMPT)
    assert verify_chain(records) == []
    decisions = [r for r in records if r["kind"] == "decision"]
    assert [d["outcome"] for d in decisions] == ["failed"], decisions
    assert stack.production(PROMPT) == production
    assert moves == ([] if production == 7 else [(PROMPT, 7, production)])
    assert stack.queue_depth(stack.resources.queue_url) == 0
    assert stack.queue_depth(stack.resources.dlq_url) == 1
    return decisions[0]


def assert_parked_unaudited(stack: Stack) -> list[dict]:
    """The ledger itself refused writes: the message must be in the DLQ (nothing else can hold it)."""
    records = stack.audit(PROMPT)
    assert verify_chain(records) == []
    assert [r for r in records if r["kind"] == "decision"] == []
    assert stack.queue_depth(stack.resources.queue_url) == 0
    assert stack.queue_depth(stack.resources.dlq_url) == 1
    return records
