"""The SQS FIFO queue between the webhook and the worker (implements ports.RollbackQueue)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from prompt_rollback.domain.interactions import ResolutionSignal, SlackAction
from prompt_rollback.domain.requests import RollbackRequest, message_group_id
from prompt_rollback.errors import EnqueueFailed

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

SQS_BATCH_LIMIT = 10


class SqsRollbackQueue:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def enqueue(self, requests: Sequence[RollbackRequest]) -> None:
        for start in range(0, len(requests), SQS_BATCH_LIMIT):
            chunk = requests[start : start + SQS_BATCH_LIMIT]
            response = self._client.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {
                        "Id": str(index),
                        "MessageBody": request.model_dump_json(),
                        "MessageGroupId": message_group_id(request.provider, request.prompt_name),
                        # Same alert firing (fingerprint + startsAt) → same id: SQS drops re-deliveries
                        # within its 5-minute window, the worker's idempotency record after that.
                        "MessageDeduplicationId": request.request_id,
                    }
                    for index, request in enumerate(chunk)
                ],
            )
            failed = response.get("Failed", [])
            if failed:
                codes = sorted({entry.get("Code", "?") for entry in failed})
                raise EnqueueFailed(f"{len(failed)} of {len(chunk)} requests not queued ({', '.join(codes)})")

    def enqueue_action(self, message: SlackAction | ResolutionSignal) -> None:
        """A click or a resolution, on its prompt's message group: after (never beside) the
        rollback it is about, one at a time with that prompt's other requests."""
        dedup = message.action_id if isinstance(message, SlackAction) else f"resolved-{message.rollback_id}"
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=message.model_dump_json(),
            MessageGroupId=message_group_id(message.provider, message.prompt_name),
            MessageDeduplicationId=dedup,
        )
