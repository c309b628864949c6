"""The rollback queue adapter: requests and resolutions go out in order, in batches SQS accepts,
each on its prompt's message group, and a batch SQS partly refuses is an error, never silence."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from prompt_rollback.adapters.rollback_queue import SQS_BATCH_LIMIT, SqsRollbackQueue
from prompt_rollback.domain.requests import RollbackRequest, message_group_id
from prompt_rollback.domain.resolutions import ResolutionSignal, ResolvedAlert
from prompt_rollback.errors import EnqueueFailed

NOW = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


class RecordingSqs:
    """SendMessageBatch as SQS answers it, refusing the entries whose ids are in `refuse`."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self._refuse = refuse

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.batches.append(Entries)
        refused = [e for e in Entries if e["MessageDeduplicationId"] in self._refuse]
        return {"Failed": [{"Id": e["Id"], "Code": "InternalError"} for e in refused]}


def _request(number: int, prompt: str = "support-answer") -> RollbackRequest:
    return RollbackRequest(request_id=f"rb-{number}", prompt_name=prompt, received_at=NOW)


def test_requests_go_out_in_order_in_batches_of_ten_on_their_prompts_group():
    sqs = RecordingSqs()
    requests = [_request(n, prompt=f"prompt-{n % 2}") for n in range(23)]
    SqsRollbackQueue(sqs, "url").enqueue(requests)  # type: ignore[arg-type]
    assert [len(batch) for batch in sqs.batches] == [SQS_BATCH_LIMIT, SQS_BATCH_LIMIT, 3]
    sent = [entry for batch in sqs.batches for entry in batch]
    assert [e["MessageDeduplicationId"] for e in sent] == [r.request_id for r in requests]
    assert [e["MessageGroupId"] for e in sent] == [
        message_group_id("langfuse", r.prompt_name) for r in requests
    ]
    assert [RollbackRequest.model_validate_json(e["MessageBody"]) for e in sent] == requests


def test_a_request_sqs_refuses_is_an_error():
    sqs = RecordingSqs(refuse=frozenset({"rb-3"}))
    with pytest.raises(EnqueueFailed, match=r"1 of 5 requests not queued \(InternalError\)"):
        SqsRollbackQueue(sqs, "url").enqueue([_request(n) for n in range(5)])  # type: ignore[arg-type]


def test_resolutions_go_out_on_their_prompts_group_and_a_refused_one_is_an_error():
    signal = ResolutionSignal(
        provider="bedrock",
        prompt_name="support-answer",
        alerts=[ResolvedAlert(rollback_id="rb-1", fingerprint="f", starts_at=NOW, resolved_at=NOW)],
    )
    sqs = RecordingSqs()
    SqsRollbackQueue(sqs, "url").enqueue_resolutions([signal])  # type: ignore[arg-type]
    [[entry]] = sqs.batches
    assert entry["MessageGroupId"] == message_group_id("bedrock", "support-answer")
    assert entry["MessageDeduplicationId"] == signal.deduplication_id
    refusing = RecordingSqs(refuse=frozenset({signal.deduplication_id}))
    with pytest.raises(EnqueueFailed, match=r"1 of 1 resolutions not queued"):
        SqsRollbackQueue(refusing, "url").enqueue_resolutions([signal])  # type: ignore[arg-type]
