"""A re-sent alert gets its first decision back, whether the head's list of requests holds it (read
by key, no request-id index Query), has rolled past it, or was written before the list was kept
(both found through the index); a first delivery proven new by the list reads nothing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from prompt_rollback.domain.alertmanager import AlertmanagerWebhook
from prompt_rollback.domain.guard_summary import GuardSummary
from prompt_rollback.domain.intake import triage
from prompt_rollback.domain.ledger_schema import BY_REQUEST_ID_INDEX
from prompt_rollback.domain.request_index import KEEP_LISTED
from prompt_rollback.domain.requests import RollbackRequest, message_group_id

from tests.integration.conftest import Stack, reset_wiring

REPEAT_INTERVAL = timedelta(hours=4)  # Alertmanager's default: a firing alert is sent again


@pytest.fixture
def index_queries(stack: Stack) -> list[str]:
    """The Query calls on the request-id index, counted as botocore sends them."""
    queries: list[str] = []
    session = boto3.session.Session()  # the default session the adapters' clients come from
    stack.monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    reset_wiring()

    def count(params: dict[str, Any], **_: Any) -> None:
        if params.get("IndexName") == BY_REQUEST_ID_INDEX:
            queries.append(params["IndexName"])

    session.events.register("before-parameter-build.dynamodb.Query", count)
    return queries


def send(stack: Stack, request: RollbackRequest) -> None:
    """Queue a request past SQS's 5-minute deduplication window, as a re-sent alert arrives."""
    boto3.client("sqs").send_message(
        QueueUrl=stack.resources.queue_url,
        MessageBody=request.model_dump_json(),
        MessageGroupId=message_group_id(request.provider, request.prompt_name),
        MessageDeduplicationId=f"{request.request_id}-{request.received_at.timestamp()}",
    )
    stack.drain()


def as_queued(body: dict[str, Any], received_at: datetime) -> RollbackRequest:
    """The request the webhook queues for the body's first alert, received at `received_at`."""
    [request] = triage(AlertmanagerWebhook.model_validate(body), received_at).accepted
    return request


def other_alert(body: dict[str, Any], index: int, starts_at: datetime | None = None) -> dict[str, Any]:
    body = copy.deepcopy(body)
    alert = body["alerts"][0]
    alert["fingerprint"] = f"{index:016x}"
    if starts_at is not None:
        alert["startsAt"] = starts_at.isoformat()
    return body


def decisions_of(stack: Stack, request_id: str) -> list[dict[str, Any]]:
    return [d for d in stack.decisions() if d["request_id"] == request_id]


def test_a_resent_alert_replays_its_decision_read_by_key_from_the_heads_list(
    stack: Stack, firing_body, index_queries
):
    stack.post(firing_body)
    stack.drain()
    assert stack.production() == 6
    assert index_queries == []  # the first delivery: the list shows it has no records
    resent = as_queued(firing_body, datetime.now(UTC) + REPEAT_INTERVAL)
    send(stack, resent)
    assert stack.label_moves() == 1
    [decision] = decisions_of(stack, resent.request_id)
    assert decision["outcome"] == "rolled_back"
    assert len(stack.slack.messages) == 1
    assert index_queries == []  # its records read by key from the head's list


def test_a_resent_alert_replays_its_decision_after_the_list_rolled_past_it(
    stack: Stack, firing_body, index_queries
):
    stack.post(firing_body)
    stack.drain()
    # More alerts about v7 than the list keeps: each an audited echo of the rollback.
    for index in range(KEEP_LISTED):
        stack.post(other_alert(firing_body, index + 1))
    stack.drain(max_batches=200)
    assert len(stack.decisions()) == KEEP_LISTED + 1
    index_queries.clear()
    # Hours later, when the bound of the list is long past what it once held.
    resent = as_queued(firing_body, datetime.now(UTC) + REPEAT_INTERVAL)
    send(stack, resent)
    assert stack.label_moves() == 1
    [decision] = decisions_of(stack, resent.request_id)
    assert decision["outcome"] == "rolled_back"
    assert len(index_queries) == 1  # the list could not tell: the index did


def test_a_head_written_before_the_list_was_kept_is_asked_through_the_index(
    stack: Stack, firing_body, index_queries, monkeypatch
):
    written_by_new_code = GuardSummary.to_item

    def as_before(summary: GuardSummary) -> dict[str, Any]:
        stored = written_by_new_code(summary)
        del stored["requests"], stored["requests_complete_after"]
        return stored

    monkeypatch.setattr(GuardSummary, "to_item", as_before)
    stack.post(firing_body)
    stack.drain()
    monkeypatch.setattr(GuardSummary, "to_item", written_by_new_code)
    index_queries.clear()

    resent = as_queued(firing_body, datetime.now(UTC) + REPEAT_INTERVAL)
    send(stack, resent)
    assert stack.label_moves() == 1 and len(decisions_of(stack, resent.request_id)) == 1
    assert len(index_queries) == 1
    # A new alert on that head is asked through the index too; its decision starts the list.
    stack.post(other_alert(firing_body, 1, starts_at=datetime.now(UTC)))
    stack.drain()
    assert len(index_queries) == 2 and len(stack.decisions()) == 2
    # An alert that started before that decision still cannot be told from the list ...
    stack.post(other_alert(firing_body, 2, starts_at=datetime.now(UTC) - timedelta(minutes=1)))
    stack.drain()
    assert len(index_queries) == 3
    # ... one that started after it (past the clock margin) can.
    later = datetime.now(UTC) + timedelta(minutes=10)
    send(stack, as_queued(other_alert(firing_body, 3, starts_at=later), later))
    assert len(index_queries) == 3 and len(stack.decisions()) == 4
    assert stack.label_moves() == 1
