"""The SQS FIFO queue between the webhook and the worker (implements ports.RollbackQueue)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prompt_rollback.domain.requests import message_group_id
from prompt_rollback.errors import EnqueueFailed

if TYPE_CHECKING:  # the webhook queues requests and resolutions, never the other kinds
    from mypy_boto3_sqs.client import SQSClient

    from prompt_rollback.domain.interactions import SlackAction
    from prompt_rollback.domain.requests import RollbackRequest
    from prompt_rollback.domain.resolutions import ResolutionSignal
    from prompt_rollback.domain.rollout_messages import RolloutClick, RolloutLabelStart

SQS_BATCH_LIMIT = 10
# SendMessageBatch refuses a batch whose bodies add up to more than this many bytes (1 MiB today,
# 256 KiB before 2025; the smaller keeps any queue happy). A request is cut to fit well below it
# (domain/requests.py), but ten of them at their limits in multi-byte or escaped text are not.
SQS_BATCH_BYTES = 262_144


@dataclass(frozen=True)
class OutgoingMessage:
    """One queue message: its body, its prompt's message group and its deduplication id."""

    body: str
    group_id: str
    deduplication_id: str


class SqsRollbackQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def enqueue(self, requests: Sequence[RollbackRequest]) -> None:
        # Same alert firing (fingerprint + startsAt) → same id: SQS drops re-deliveries within its
        # 5-minute window, the worker's idempotency record after that.
        self._send_in_batches([_outgoing(request, request.request_id) for request in requests], "requests")

    def enqueue_action(self, message: SlackAction | RolloutClick) -> None:
        """A click, on its prompt's message group: after (never beside) the rollback it is
        about, one at a time with that prompt's other requests."""
        self._send_one(_outgoing(message, message.action_id))

    def enqueue_rollout_start(self, message: RolloutLabelStart) -> None:
        """A rollout start from the candidate label, on its prompt's group, once per Langfuse event."""
        self._send_one(_outgoing(message, message.deduplication_id))

    def _send_one(self, message: OutgoingMessage) -> None:
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=message.body,
            MessageGroupId=message.group_id,
            MessageDeduplicationId=message.deduplication_id,
        )

    def enqueue_resolutions(self, signals: Sequence[ResolutionSignal]) -> None:
        """Resolved alerts, each on its prompt's group, in batches (a storm resolves together)."""
        self._send_in_batches(
            [_outgoing(signal, signal.deduplication_id) for signal in signals], "resolutions"
        )

    def _send_in_batches(self, messages: list[OutgoingMessage], what: str) -> None:
        """Every message queued, in order, or `EnqueueFailed` naming how many of a batch were not."""
        for chunk in _batches(messages):
            response = self._client.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {
                        "Id": str(index),
                        "MessageBody": message.body,
                        "MessageGroupId": message.group_id,
                        "MessageDeduplicationId": message.deduplication_id,
                    }
                    for index, message in enumerate(chunk)
                ],
            )
            failed = response.get("Failed", [])
            if failed:
                codes = sorted({entry.get("Code", "?") for entry in failed})
                raise EnqueueFailed(f"{len(failed)} of {len(chunk)} {what} not queued ({', '.join(codes)})")


def _outgoing(
    message: RollbackRequest | SlackAction | ResolutionSignal | RolloutLabelStart | RolloutClick,
    deduplication_id: str,
) -> OutgoingMessage:
    return OutgoingMessage(
        message.model_dump_json(), message_group_id(message.provider, message.prompt_name), deduplication_id
    )


def _batches(messages: list[OutgoingMessage]) -> list[list[OutgoingMessage]]:
    """Consecutive runs of at most SQS_BATCH_LIMIT messages and SQS_BATCH_BYTES bytes (in order:
    the FIFO queue keeps one prompt's requests in the order they are sent)."""
    batches: list[list[OutgoingMessage]] = []
    size = 0
    for message in messages:
        body_bytes = len(message.body.encode())
        if not batches or len(batches[-1]) == SQS_BATCH_LIMIT or size + body_bytes > SQS_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(message)
        size += body_bytes
    return batches
