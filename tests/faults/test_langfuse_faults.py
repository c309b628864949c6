"""Langfuse slow or failing in ways the integration suite does not cover: timeouts (with the
label move landing after the client gave up) and 5xx on the label move after the reads worked."""

from __future__ import annotations

import json
import time

import pytest

from tests.faults.nothing_lost import (
    PROMPT,
    assert_parked_and_audited_as_failed,
    assert_rolled_back_once,
    attempt_once,
)
from tests.integration.conftest import Stack, reset_wiring

TIMEOUT = 0.3  # seconds, the Langfuse client's per-request timeout in these tests


@pytest.fixture(autouse=True)
def short_langfuse_timeout(stack: Stack) -> None:
    stack.monkeypatch.setenv("LANGFUSE_TIMEOUT_SECONDS", str(TIMEOUT))
    reset_wiring()


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_read_that_times_out_is_retried_and_rolls_back_once(stack: Stack, firing_body, production_moves):
    stack.langfuse.app.delay_next(TIMEOUT * 3)  # the first request: listing the versions
    stack.post(firing_body)
    assert attempt_once(stack) == 1  # times out before anything was written or moved
    assert stack.audit(PROMPT) == []
    stack.drain()
    decision = assert_rolled_back_once(stack, production_moves)
    assert not decision["reason"].endswith("(audit completed on retry)")
    assert [r["kind"] for r in stack.audit(PROMPT)] == ["intent", "decision"]


def test_a_label_move_that_times_out_but_lands_is_finished_on_retry_not_repeated(
    stack: Stack, firing_body, production_moves
):
    # Requests of an attempt: list versions, get production, PATCH. Only the PATCH is slow:
    # Langfuse applies it after our client has given up on it.
    stack.langfuse.app.delay_next(0.0, count=2)
    stack.langfuse.app.delay_next(TIMEOUT * 4)
    stack.post(firing_body)
    attempt_once(stack)
    assert [method for method, _ in stack.langfuse.app.requests] == ["GET", "GET", "PATCH"]
    assert [r["kind"] for r in stack.audit(PROMPT)] == ["intent"]  # the attempt failed after its intent
    assert wait_until(lambda: stack.production(PROMPT) == 6)  # ...and the move lands anyway
    stack.drain()
    decision = assert_rolled_back_once(stack, production_moves)
    assert decision["reason"].endswith("(audit completed on retry)")
    assert stack.label_moves() == 1  # the retry saw production at the target and did not PATCH again
    assert [r["kind"] for r in stack.audit(PROMPT)] == ["intent", "decision"]


def test_langfuse_timing_out_on_every_attempt_ends_in_the_dlq_audited_as_failed(
    stack: Stack, firing_body, production_moves
):
    stack.langfuse.app.delay_next(TIMEOUT * 2, count=50)
    stack.post(firing_body)
    stack.drain()
    stack.langfuse.app.clear_faults()
    decision = assert_parked_and_audited_as_failed(stack, production_moves)
    assert decision["error"] == "Langfuse list versions: ReadTimeout"
    assert stack.label_moves() == 0
    assert "FAILED" in json.dumps(stack.slack.messages[-1])


def test_5xx_on_the_label_move_after_the_reads_worked_ends_in_the_dlq_audited_as_failed(
    stack: Stack, firing_body, production_moves, langfuse_backoff
):
    stack.langfuse.app.fail_next(503, count=100, methods=("PATCH",))
    stack.post(firing_body)
    stack.drain()
    decision = assert_parked_and_audited_as_failed(stack, production_moves)
    assert decision["error"] == "Langfuse move label: HTTP 503"
    assert (decision["from_version"], decision["to_version"]) == (7, 6)
    # Three attempts (MAX_RECEIVE_COUNT), each a PATCH plus the SDK's own two retries.
    assert stack.label_moves() == 9
    assert len(langfuse_backoff) == 6
    assert [r["kind"] for r in stack.audit(PROMPT)] == ["intent", "decision"]
    assert "FAILED" in json.dumps(stack.slack.messages[-1])


def test_5xx_on_a_label_move_that_was_applied_is_finished_on_retry_not_repeated(
    stack: Stack, firing_body, production_moves, langfuse_backoff
):
    # A gateway in front of Langfuse answers 502 although Langfuse applied the PATCH.
    app = stack.langfuse.app
    apply_patch = app._patch

    def applied_then_bad_gateway(name, raw_version, body):
        status, payload, headers = apply_patch(name, raw_version, body)
        return (502, {"message": "bad gateway"}, []) if status == 200 else (status, payload, headers)

    stack.monkeypatch.setattr(app, "_patch", applied_then_bad_gateway)
    stack.post(firing_body)
    stack.drain()
    decision = assert_rolled_back_once(stack, production_moves)
    assert decision["reason"].endswith("(audit completed on retry)")
    assert stack.label_moves() == 3  # the first attempt: PATCH + 2 SDK retries, all "failed"
    assert len(stack.slack.messages) == 1
