"""SNS (AMP) and EventBridge (CloudWatch) events through the alert-events function, on moto SQS.

The function is the deployed handler; the queue, the worker and the audit ledger are the same
as behind POST /alerts (tests/integration/conftest.py), so an AMP alert or a CloudWatch alarm
rolls back exactly like an Alertmanager alert.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest
from prompt_rollback import wiring
from prompt_rollback.sources import events_handler as alert_events
from pydantic import ValidationError

from local_mode.lambda_runtime import LocalLambdaContext
from tests.integration.conftest import Stack
from tests.unit.sources_fixtures import source_fixture


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    return alert_events.lambda_handler(event, LocalLambdaContext("alert-events"))


def queued_bodies(stack: Stack) -> list[dict[str, Any]]:
    messages = (
        boto3.client("sqs")
        .receive_message(QueueUrl=stack.resources.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        .get("Messages", [])
    )
    return [json.loads(m["Body"]) for m in messages]


def test_amp_alert_through_sns_rolls_back_and_is_audited(stack: Stack):
    assert stack.production() == 7
    result = invoke(source_fixture("amp-json-template.sns.json"))
    [accepted] = result["accepted"]
    assert (accepted["source"], accepted["prompt_name"], accepted["prompt_version"]) == (
        "amp",
        "support-answer",
        7,
    )
    stack.drain()
    assert stack.production() == 6
    [decision] = stack.decisions()
    assert decision["outcome"] == "rolled_back"
    assert decision["request_id"] == accepted["rollback_id"]
    assert decision["trigger"]["fingerprint"] == "5b3e2a1c9d8f7e6a"
    assert '("timeout" from the model)\nsee the runbook' in decision["trigger"]["summary"]


def test_sns_redelivery_queues_one_request(stack: Stack):
    event = source_fixture("amp-json-template.sns.json")
    first = invoke(event)
    second = invoke(copy.deepcopy(event))
    assert first["accepted"][0]["rollback_id"] == second["accepted"][0]["rollback_id"]
    assert len(queued_bodies(stack)) == 1  # FIFO deduplication on the rollback id


@pytest.mark.parametrize(
    ("fixture", "expected_in_reason"),
    [
        ("amp-text-format.sns.json", "default text format"),
        ("amp-truncated.sns.json", "truncated this SNS message"),
        ("amp-aws-template-quotes.sns.json", "AMP message is not JSON"),
    ],
)
def test_amp_messages_that_cannot_be_read_queue_nothing_and_say_why(
    stack: Stack, fixture: str, expected_in_reason: str, caplog: pytest.LogCaptureFixture
):
    result = invoke(source_fixture(fixture))
    assert result["accepted"] == []
    assert result["skipped"]
    assert all(expected_in_reason in s["reason"] for s in result["skipped"])
    # Counted in AlertsMisconfigured, whose alarm tells someone the AMP side needs fixing.
    assert {s["kind"] for s in result["skipped"]} == {"misconfigured"}
    assert queued_bodies(stack) == []
    # The reason is in the function's log line too, where an operator looks.
    [triaged] = [r for r in caplog.records if r.getMessage() == "alerts triaged"]
    assert expected_in_reason in triaged.skipped[0]["reason"]  # type: ignore[attr-defined]


def test_cloudwatch_alarm_through_eventbridge_rolls_back(stack: Stack):
    result = invoke(source_fixture("cloudwatch-alarm-prompt.json"))
    [accepted] = result["accepted"]
    assert accepted["source"] == "cloudwatch"
    stack.drain()
    assert stack.production() == 6
    [decision] = stack.decisions()
    assert decision["trigger"]["alertname"] == "support-answer-v7-error-rate"
    assert decision["trigger"]["labels"]["alarm_arn"].endswith(":alarm:support-answer-v7-error-rate")


def test_eventbridge_redelivery_of_a_state_change_rolls_back_once(stack: Stack):
    event = source_fixture("cloudwatch-alarm-prompt.json")
    again = copy.deepcopy(event)
    again["id"] = "a-second-delivery"
    invoke(event)
    invoke(again)
    stack.drain()
    assert stack.label_moves() == 1
    assert [d["outcome"] for d in stack.decisions()] == ["rolled_back"]


@pytest.mark.parametrize(
    ("fixture", "expected_reason_start"),
    [
        ("cloudwatch-alarm-prompt-insufficient-data.json", "INSUFFICIENT_DATA: ignored"),
        ("cloudwatch-alarm-aws-example.json", "alarm has no PromptName or PromptVersion dimension"),
        ("cloudwatch-alarm-missing-version.json", "alarm has no PromptVersion dimension"),
    ],
)
def test_alarm_events_that_do_not_roll_back_queue_nothing(
    stack: Stack, fixture: str, expected_reason_start: str
):
    result = invoke(source_fixture(fixture))
    assert result["accepted"] == []
    [skipped] = result["skipped"]
    assert skipped["reason"].startswith(expected_reason_start)
    assert queued_bodies(stack) == []


def test_an_ok_alarm_queues_a_recovery_signal_and_no_rollback(stack: Stack):
    result = invoke(source_fixture("cloudwatch-alarm-prompt-ok.json"))
    assert result["accepted"] == []
    [skipped] = result["skipped"]
    assert skipped["reason"].startswith("resolved: nothing to roll back; queued as a recovery signal")
    [signal] = queued_bodies(stack)
    assert signal["message_type"] == "resolution"
    assert signal["prompt_name"] == "support-answer"


def test_a_queue_failure_raises_so_the_event_is_retried_and_then_dead_lettered(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ROLLBACK_QUEUE_URL", stack.resources.queue_url + "-gone")
    wiring.reset()
    with pytest.raises(Exception, match=r"NonExistentQueue|does not exist"):
        invoke(source_fixture("cloudwatch-alarm-prompt.json"))


@pytest.mark.parametrize(
    "event",
    [
        {"hello": "world"},
        {"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change"},
        {"Records": [{"EventSource": "aws:sqs"}]},
    ],
)
def test_events_of_another_shape_raise_instead_of_vanishing(stack: Stack, event: dict[str, Any]):
    with pytest.raises((ValidationError, alert_events.UnrecognisedEvent)):
        invoke(event)
    assert queued_bodies(stack) == []
