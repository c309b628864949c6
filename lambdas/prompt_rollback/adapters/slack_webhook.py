"""The Slack incoming-webhook transport: slack_sdk's WebhookClient with its retry handlers.
The client's logger redacts the webhook's path, which is its secret."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime
from http.client import HTTPException
from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk.errors import SlackRequestError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from prompt_rollback.domain.retry_after import retry_after_seconds

SEND_ERRORS = (OSError, HTTPException, SlackRequestError)  # URLError and timeouts are OSErrors


class CappedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, with its wait capped so a Lambda cannot sleep out its timeout.

    slack_sdk sleeps whatever Retry-After asks (an hour, if Slack says so). A Retry-After over the
    cap is waited for the cap only, or, with `give_up_over_cap`, not retried at all (the audit
    says "failed" instead); the retry count still bounds the worst case."""

    def __init__(
        self, max_retry_count: int, max_wait_seconds: float = 10.0, give_up_over_cap: bool = False
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_seconds = max_wait_seconds
        self.give_up_over_cap = give_up_over_cap

    @staticmethod
    def asked_seconds(response: HttpResponse) -> float:
        """Retry-After's wait; one second when it gives none we can read, as slack_sdk does."""
        headers = {name: values[0] for name, values in response.headers.items() if values}
        asked = retry_after_seconds(headers, datetime.now(UTC))
        return 1.0 if asked is None else asked

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        if response is None or not self.give_up_over_cap:
            return True
        return self.asked_seconds(response) <= self.max_wait_seconds

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:  # only called for a 429 response (see _can_retry)
            raise error or RuntimeError("a rate-limit retry without a response")
        state.next_attempt_requested = True
        time.sleep(min(self.asked_seconds(response), self.max_wait_seconds))
        state.increment_current_attempt()


class _RedactWebhookPath(logging.Filter):
    """WebhookClient logs the request URL: at INFO when it retries a broken connection ("Going to
    retry the same request: POST https://hooks.slack.com/services/T…/B…/<token>"), at DEBUG with
    every request. An incoming webhook's path is its secret, and records reach CloudWatch through
    the Lambda runtime's root handler: the path is replaced in every record of the client's logger."""

    REPLACEMENT = "/<slack webhook path>"

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.path in message:
            record.msg, record.args = message.replace(self.path, self.REPLACEMENT), None
        return True


# The logger each SlackWebhookNotifier gives its WebhookClient (one child per webhook path).
TRANSPORT_LOGGER_NAME = "prompt_rollback.slack_webhook"


def _transport_logger(webhook_url: str) -> logging.Logger:
    path = urlsplit(webhook_url.strip()).path
    digest = hashlib.sha256(path.encode()).hexdigest()[:12]  # a name that does not carry the secret
    transport = logging.getLogger(f"{TRANSPORT_LOGGER_NAME}.{digest}")
    if len(path) > 1 and not transport.filters:
        transport.addFilter(_RedactWebhookPath(path))
    return transport


def failure_kind(error: Exception) -> str:
    """What went wrong, by exception type: urllib's URLError says more in its reason
    ("ConnectionRefusedError", "TimeoutError")."""
    if isinstance(error, URLError) and isinstance(error.reason, Exception):
        return type(error.reason).__name__
    return type(error).__name__


# Retries share one budget (`retries`): connection errors, 500/503 (exponential backoff) and 429
# (with the Retry-After wait capped).
def webhook_client(webhook_url: str, timeout_seconds: int, retries: int) -> WebhookClient:
    return WebhookClient(
        webhook_url,
        timeout=timeout_seconds,
        logger=_transport_logger(webhook_url),
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=retries),
            ServerErrorRetryHandler(max_retry_count=retries),
            CappedRateLimitRetryHandler(max_retry_count=retries),
        ],
    )
