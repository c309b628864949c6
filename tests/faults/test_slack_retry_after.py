"""Slack rate limiting with a Retry-After longer than the worker can afford to wait: the
notifier's CappedRateLimitRetryHandler caps each wait (the waits are recorded, not slept)."""

from __future__ import annotations

import time

import pytest
import slack_sdk.http_retry.handler
from prompt_rollback.adapters import slack_webhook
from prompt_rollback.adapters.slack import SlackWebhookNotifier
from prompt_rollback.adapters.slack_webhook import CappedRateLimitRetryHandler

from tests.faults.nothing_lost import assert_rolled_back_once
from tests.integration.conftest import Stack

HOUR = "3600"
SLACK_RETRIES = 3  # SlackWebhookNotifier's default


class _RecordedSleeps:
    """Stands in for the `time` module inside the retry handlers only."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def __getattr__(self, name: str):
        return getattr(time, name)


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    clock = _RecordedSleeps()
    monkeypatch.setattr(slack_webhook, "time", clock)  # the capped 429 handler
    monkeypatch.setattr(slack_sdk.http_retry.handler, "time", clock)  # slack_sdk's backoff
    return clock.sleeps


def _rate_limit_handler() -> CappedRateLimitRetryHandler:
    handlers = SlackWebhookNotifier("https://hooks.slack.invalid/x")._client.retry_handlers
    (handler,) = (h for h in handlers if isinstance(h, CappedRateLimitRetryHandler))
    return handler


CAP = _rate_limit_handler().max_wait_seconds


def test_defaults_are_what_these_tests_assume():
    handlers = SlackWebhookNotifier("https://hooks.slack.invalid/x")._client.retry_handlers
    assert CAP == 10.0
    assert {type(h).__name__ for h in handlers} == {
        "ConnectionErrorRetryHandler",
        "ServerErrorRetryHandler",
        "CappedRateLimitRetryHandler",
    }
    assert all(h.max_retry_count == SLACK_RETRIES for h in handlers)


def test_a_retry_after_beyond_the_cap_is_waited_for_the_cap_only_then_sent(
    stack: Stack, firing_body, retry_sleeps, production_moves
):
    stack.slack.fail_next(429, count=1, retry_after=HOUR)
    stack.post(firing_body)
    started = time.monotonic()
    stack.drain()
    assert time.monotonic() - started < 5
    assert retry_sleeps == [CAP]
    decision = assert_rolled_back_once(stack, production_moves)
    assert decision["slack"] == {"status": "sent", "detail": "HTTP 200"}
    assert stack.slack.attempts == 2
    assert len(stack.slack.messages) == 1


def test_slack_rate_limiting_past_every_retry_is_audited_and_the_rollback_stands(
    stack: Stack, firing_body, retry_sleeps, production_moves
):
    stack.slack.fail_next(429, count=50, retry_after=HOUR)
    stack.post(firing_body)
    stack.drain()
    # Worst case for the worker: SLACK_RETRIES capped waits, not hours.
    assert retry_sleeps == [CAP] * SLACK_RETRIES
    decision = assert_rolled_back_once(stack, production_moves)
    assert decision["slack"] == {"status": "failed", "detail": "HTTP 429"}
    assert stack.slack.attempts == 1 + SLACK_RETRIES
    assert stack.slack.messages == []
