"""Each function's environment model: what it cannot run without is named when missing, a wrong
value is named before a missing one, and an empty variable counts as unset."""

from __future__ import annotations

import pytest
from prompt_rollback.errors import ConfigurationError
from prompt_rollback.settings import (
    AlertEventsEnvironment,
    CloudTrailEnvironment,
    LangfuseEventsEnvironment,
    SlackActionsEnvironment,
    WebhookEnvironment,
    WorkerEnvironment,
)

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/requests.fifo"


@pytest.mark.parametrize(
    ("model", "environ", "missing"),
    [
        (WebhookEnvironment, {"ROLLBACK_QUEUE_URL": QUEUE}, "WEBHOOK_TOKEN_SECRET_NAME"),
        (WebhookEnvironment, {"WEBHOOK_TOKEN_SECRET_NAME": "token"}, "ROLLBACK_QUEUE_URL"),
        (AlertEventsEnvironment, {}, "ROLLBACK_QUEUE_URL"),
        (CloudTrailEnvironment, {"OWN_ROLE_ARNS": "arn:aws:iam::1:role/worker"}, "AUDIT_TABLE_NAME"),
        (LangfuseEventsEnvironment, {"AUDIT_TABLE_NAME": "audit"}, "IDEMPOTENCY_TABLE_NAME"),
        (
            SlackActionsEnvironment,
            {"ROLLBACK_QUEUE_URL": QUEUE, "AUDIT_TABLE_NAME": "audit"},
            "IDEMPOTENCY_TABLE_NAME",
        ),
        (
            WorkerEnvironment,
            {"IDEMPOTENCY_TABLE_NAME": "idempotency", "AUDIT_TABLE_NAME": " "},
            "AUDIT_TABLE_NAME",
        ),
    ],
)
def test_a_missing_variable_is_named(model, environ, missing):
    with pytest.raises(ConfigurationError, match=f"^{missing} is not set$") as error:
        model.from_environment(environ)
    assert error.value.variable == missing


def test_a_wrong_value_is_named_before_a_missing_one():
    with pytest.raises(ConfigurationError, match=r"^SLACK_CHANNEL is invalid"):
        WorkerEnvironment.from_environment({"SLACK_CHANNEL": "not a channel!"})


def test_what_one_function_does_not_use_is_not_asked_of_it():
    webhook = WebhookEnvironment.from_environment(
        {"ROLLBACK_QUEUE_URL": QUEUE, "WEBHOOK_TOKEN_SECRET_NAME": "token", "MAX_RECEIVE_COUNT": "five"}
    )
    assert webhook.rollback_queue_url == QUEUE
    assert not hasattr(webhook, "max_receive_count")
