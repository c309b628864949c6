"""The worker never overruns its own timeout: Langfuse's Retry-After is capped as Slack's is, each
record gets a deadline from the invocation's remaining time, and the records there is no time
for are reported as failures (SQS delivers them again) instead of being lost in a timeout."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from prompt_rollback.worker import handler as worker

from local_mode.lambda_runtime import LocalLambdaContext, SqsPoller
from local_mode.langfuse_server import seed_demo_prompt
from tests.faults.nothing_lost import (
    PROMPT,
    assert_parked_and_audited_as_failed,
    assert_rolled_back_once,
    attempt_once,
)
from tests.integration.conftest import Stack


def _attempt_with(stack: Stack, seconds_left: float) -> list[str]:
    """One receive + invocation whose Lambda has only `seconds_left` of its timeout left; the
    ids of the records it reported as failures (all of them when Powertools raised for that)."""
    failed: list[str] = []

    def late_invocation(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        context = LocalLambdaContext("worker", timeout_seconds=seconds_left)
        try:
            answer = worker.lambda_handler(event, context)
        except BatchProcessingError:  # every record failed: the invocation fails, as in Lambda
            failed.extend(record["messageId"] for record in event["Records"])
            raise
        failed.extend(item["itemIdentifier"] for item in answer.get("batchItemFailures", []))
        return answer

    SqsPoller(stack.resources.queue_url, late_invocation, wait_seconds=0).poll_once()
    return failed


def test_a_retry_after_of_two_minutes_is_not_slept_in_the_worker(
    stack: Stack, firing_body, production_moves, langfuse_backoff
):
    stack.langfuse.app.fail_next(429, count=100, retry_after="120")
    stack.post(firing_body)
    started = time.monotonic()
    attempt_once(stack)
    assert langfuse_backoff == []  # was [60.0, 60.0]: two minutes of a one-minute function
    assert time.monotonic() - started < 5
    assert stack.audit(PROMPT) == []  # failed before anything was written: delivered again
    assert stack.queue_depth(stack.resources.queue_url) == 1

    stack.drain()  # every attempt alike; the last one audits, tells Slack and parks it
    decision = assert_parked_and_audited_as_failed(stack, production_moves)
    assert "Retry-After 120 s" in decision["error"]
    assert "FAILED" in json.dumps(stack.slack.messages[-1])


def test_records_there_is_no_time_left_for_are_reported_as_failures_and_come_back(
    stack: Stack, firing_body, production_moves
):
    other = copy.deepcopy(firing_body)
    for alert in other["alerts"]:
        alert["labels"]["prompt_name"] = "other-answer"
    seed_demo_prompt(stack.langfuse.store, name="other-answer")
    stack.post(firing_body)
    stack.post(other)

    failed = _attempt_with(stack, seconds_left=3)
    assert len(failed) == 2  # neither started: no time to finish it, nor to audit its failure
    assert stack.queue_depth(stack.resources.queue_url) == 2
    assert stack.audit(PROMPT) == [] and stack.audit("other-answer") == []
    assert stack.production(PROMPT) == 7

    stack.drain()  # the next invocation has its full minute
    assert_rolled_back_once(stack, [m for m in production_moves if m[0] == PROMPT])
    assert stack.production("other-answer") == 6
