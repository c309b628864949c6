"""DynamoDB throttling the audit ledger, injected on moto's side so botocore's own retries see
what DynamoDB would send. A ledger that refuses writes stops the rollback before any label
moves (the intent comes first), so the request must end in the DLQ, to be redriven later."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.models import DynamoDBBackend

from tests.faults.nothing_lost import (
    PROMPT,
    assert_parked_unaudited,
    assert_rolled_back_once,
    redrive_dead_letters,
)
from tests.integration.conftest import Stack

# wiring.AWS_CLIENT_CONFIG's retries={"max_attempts": 5} counts retries: 1 + 5 requests per call.
BOTOCORE_ATTEMPTS = 6


@dataclass
class LedgerThrottle:
    """Makes DynamoDB throttle PutItem on the audit table."""

    table_name: str
    remaining: int = 0  # throttle this many more PutItem requests (-1: all of them)
    when: str = ""  # only records of this kind ("intent" / "decision"); "" for every record
    throttled: int = 0
    kinds: list[str] = field(default_factory=list)  # the kind of every PutItem DynamoDB received

    def should_throttle(self, table_name: str, item: dict[str, Any]) -> bool:
        if table_name != self.table_name:
            return False
        kind = item.get("kind", {}).get("S", "")
        self.kinds.append(kind)
        if self.remaining == 0 or (self.when and kind != self.when):
            return False
        if self.remaining > 0:
            self.remaining -= 1
        self.throttled += 1
        return True

    def stop(self) -> None:
        self.remaining = 0


@pytest.fixture
def throttle(stack: Stack, monkeypatch: pytest.MonkeyPatch, botocore_backoff) -> LedgerThrottle:
    throttle = LedgerThrottle(table_name=stack.resources.audit_table)
    put_item = DynamoDBBackend.put_item

    def throttled_put_item(self, table_name: str, item_attrs: dict[str, Any], *args: Any, **kwargs: Any):
        if throttle.should_throttle(table_name, item_attrs):
            raise DynamodbException(
                ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            )
        return put_item(self, table_name, item_attrs, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", throttled_put_item)
    return throttle


def test_throttling_absorbed_by_botocore_retries_rolls_back_once(
    stack: Stack, firing_body, throttle, botocore_backoff, production_moves
):
    throttle.remaining = 2
    stack.post(firing_body)
    assert stack.drain() == 1  # one worker invocation did it: no SQS retry was needed
    assert throttle.throttled == 2
    assert throttle.kinds == ["intent", "intent", "intent", "decision"]
    assert len(botocore_backoff) == 2  # botocore backed off before each retry
    assert_rolled_back_once(stack, production_moves)
    assert [r["kind"] for r in stack.audit(PROMPT)] == ["intent", "decision"]


def test_ledger_refusing_every_write_moves_nothing_parks_the_request_and_redrive_finishes_it(
    stack: Stack, firing_body, throttle, production_moves
):
    throttle.remaining = -1
    stack.post(firing_body)
    stack.drain()
    assert_parked_unaudited(stack)
    assert stack.audit(PROMPT) == []
    assert stack.label_moves() == 0  # the intent could not be written, so Langfuse was never touched
    assert production_moves == []
    # Three attempts sent their intent 6 times each; the last one also tried to audit "failed".
    assert throttle.kinds == ["intent"] * (3 * BOTOCORE_ATTEMPTS) + ["decision"] * BOTOCORE_ATTEMPTS
    # People were told although the ledger was not: the failure notice goes out before the write.
    assert "FAILED" in json.dumps(stack.slack.messages[-1])

    throttle.stop()  # DynamoDB is back; on-call redrives the DLQ
    assert redrive_dead_letters(stack) == 1
    stack.drain()
    decision = assert_rolled_back_once(stack, production_moves)
    assert not decision["reason"].endswith("(audit completed on retry)")


def test_ledger_refusing_the_decision_after_the_move_parks_the_request_and_redrive_finishes_the_audit(
    stack: Stack, firing_body, throttle, production_moves
):
    throttle.remaining, throttle.when = -1, "decision"
    stack.post(firing_body)
    stack.drain()
    records = assert_parked_unaudited(stack)
    # The label moved once; the ledger holds the intent that says so, the DLQ the request.
    assert [r["kind"] for r in records] == ["intent"]
    assert production_moves == [(PROMPT, 7, 6)]
    assert stack.label_moves() == 1  # retries found production at the target and did not PATCH again
    # The last attempt could not audit, but it tells people what is true: the label moved.
    last_message = json.dumps(stack.slack.messages[-1], ensure_ascii=False)
    assert "Prompt rolled back" in last_message
    assert "the audit could not be completed" in last_message

    throttle.stop()
    assert redrive_dead_letters(stack) == 1
    stack.drain()
    decision = assert_rolled_back_once(stack, production_moves)
    assert decision["reason"].endswith("(audit completed on retry)")
    assert stack.label_moves() == 1
    assert [r["kind"] for r in stack.audit(PROMPT)] == ["intent", "decision"]


# --- Slack app mode: one message per incident however often the ledger makes us retry ----------


def _incident_messages(app_stack) -> list:
    return app_stack.slack_api.top_level()


def test_app_mode_ledger_refusing_the_decision_still_shows_one_message_updated_in_place(
    app_stack, firing_body, throttle, production_moves
):
    stack = app_stack.stack
    throttle.table_name = stack.resources.audit_table
    throttle.remaining, throttle.when = -1, "decision"
    stack.post(firing_body)
    stack.drain()
    throttle.stop()
    assert redrive_dead_letters(stack) == 1
    stack.drain()
    assert_rolled_back_once(stack, production_moves)
    posts = app_stack.slack_api.calls.count("chat.postMessage")
    updates = app_stack.slack_api.calls.count("chat.update")
    print(f"ledger refusing decisions: {posts} post(s), {updates} update(s) for one incident")  # figure
    [message] = _incident_messages(app_stack)
    assert posts == 1 and updates >= 3  # every retry and the redrive updated the one message
    assert "Prompt rolled back" in message.text


def test_app_mode_ledger_refusing_every_write_still_shows_one_message(
    app_stack, firing_body, throttle, production_moves
):
    stack = app_stack.stack
    throttle.remaining = -1
    stack.post(firing_body)
    stack.drain()
    [message] = _incident_messages(app_stack)
    assert "FAILED" in message.text  # people were told, once
    throttle.stop()
    assert redrive_dead_letters(stack) == 1
    stack.drain()
    assert_rolled_back_once(stack, production_moves)
    posts, updates = (app_stack.slack_api.calls.count(m) for m in ("chat.postMessage", "chat.update"))
    print(f"ledger refusing every write: {posts} post(s), {updates} update(s)")  # the figure
    [message] = _incident_messages(app_stack)
    assert posts == 1 and "Prompt rolled back" in message.text
