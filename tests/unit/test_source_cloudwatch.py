"""CloudWatch alarm state changes (EventBridge) become one alert, or a skip with a reason."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from prompt_rollback.domain.intake import triage
from prompt_rollback.domain.sources.cloudwatch_alarm import AlarmStateChangeEvent, convert_alarm_event
from pydantic import ValidationError

from tests.unit.sources_fixtures import source_fixture

RECEIVED = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


def convert(event: dict[str, Any]):
    return convert_alarm_event(AlarmStateChangeEvent.model_validate(event))


def test_alarm_is_a_firing_alert_that_becomes_a_rollback_request():
    converted = convert(source_fixture("cloudwatch-alarm-prompt.json"))
    assert converted.skipped == []
    assert converted.body is not None
    [request] = triage(converted.body, received_at=RECEIVED).accepted
    assert (request.provider, request.prompt_name, request.alerted_version) == (
        "langfuse",
        "support-answer",
        7,
    )
    assert request.trigger is not None
    assert request.trigger.alertname == "support-answer-v7-error-rate"
    assert request.trigger.summary == "support-answer v7: more than 5% of answers failed in 5 minutes"
    assert request.trigger.starts_at == datetime(2026, 12, 1, 21, 58, 40, 989000, tzinfo=UTC)
    assert "#alarmsV2:alarm/support-answer-v7-error-rate" in request.trigger.generator_url


def test_ok_is_a_resolved_alert_that_only_signals_recovery():
    converted = convert(source_fixture("cloudwatch-alarm-prompt-ok.json"))
    assert converted.body is not None
    intake = triage(converted.body, received_at=RECEIVED)
    assert intake.accepted == []
    assert [s.reason for s in intake.skipped] == [
        "resolved: nothing to roll back; queued as a recovery signal"
    ]
    assert [signal.prompt_name for signal in intake.resolved] == ["support-answer"]


def test_insufficient_data_is_ignored_with_a_reason():
    converted = convert(source_fixture("cloudwatch-alarm-prompt-insufficient-data.json"))
    assert converted.body is None
    [skipped] = converted.skipped
    assert skipped.reason.startswith("INSUFFICIENT_DATA: ignored")
    assert skipped.alertname == "support-answer-v7-error-rate"


def test_re_deliveries_of_one_state_change_share_a_rollback_id_and_the_next_change_does_not():
    event = source_fixture("cloudwatch-alarm-prompt.json")
    redelivered = copy.deepcopy(event)
    redelivered["id"] = "another-eventbridge-event-id"
    later = copy.deepcopy(event)
    later["detail"]["state"]["timestamp"] = "2026-12-01T23:10:00.000+0000"
    ids = []
    for each in (event, redelivered, later):
        body = convert(each).body
        assert body is not None
        ids.append(triage(body, received_at=RECEIVED).accepted[0].request_id)
    assert ids[0] == ids[1]
    assert ids[2] != ids[0]


def test_the_same_state_change_time_on_another_alarm_is_another_alert():
    event = source_fixture("cloudwatch-alarm-prompt.json")
    other = copy.deepcopy(event)
    other["resources"] = ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:support-answer-v7-latency"]
    fingerprints = [convert(e).body.alerts[0].fingerprint for e in (event, other)]  # type: ignore[union-attr]
    assert fingerprints[0] != fingerprints[1]


def test_awss_documented_example_names_no_prompt_and_says_which_dimensions_to_add():
    converted = convert(source_fixture("cloudwatch-alarm-aws-example.json"))
    assert converted.body is None
    [skipped] = converted.skipped
    assert skipped.alertname == "ServerCpuTooHigh"
    assert "PromptName or PromptVersion" in skipped.reason
    assert "docs/sources.md#cloudwatch-alarms" in skipped.reason


def test_a_missing_version_dimension_is_named():
    [skipped] = convert(source_fixture("cloudwatch-alarm-missing-version.json")).skipped
    assert "no PromptVersion dimension" in skipped.reason


def test_metrics_that_disagree_on_the_prompt_are_skipped():
    event = source_fixture("cloudwatch-alarm-prompt.json")
    second = copy.deepcopy(event["detail"]["configuration"]["metrics"][0])
    second["id"] = "m2"
    second["metricStat"]["metric"]["dimensions"]["PromptVersion"] = "8"
    event["detail"]["configuration"]["metrics"].append(second)
    [skipped] = convert(event).skipped
    assert "disagree on dimension PromptVersion" in skipped.reason


def test_metric_math_alarm_reads_the_dimensions_of_its_metrics():
    event = source_fixture("cloudwatch-alarm-prompt.json")
    metrics = event["detail"]["configuration"]["metrics"]
    metrics[0]["returnData"] = False
    metrics.append({"id": "e1", "expression": "m1 * 100", "label": "error %", "returnData": True})
    converted = convert(event)
    assert converted.body is not None
    assert converted.body.alerts[0].labels["prompt_version"] == "7"


def test_bedrock_dimensions_name_the_pointer_to_roll_back():
    event = source_fixture("cloudwatch-alarm-prompt.json")
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"].update(
        {"Provider": "bedrock", "BedrockAgentId": "AGENT12345", "BedrockAliasId": "ALIAS12345"}
    )
    body = convert(event).body
    assert body is not None
    [request] = triage(body, received_at=RECEIVED).accepted
    assert request.provider == "bedrock"
    assert request.provider_target == {"bedrock_agent_id": "AGENT12345", "bedrock_alias_id": "ALIAS12345"}


def test_a_bad_version_dimension_is_skipped_by_triage_like_a_bad_label():
    event = source_fixture("cloudwatch-alarm-prompt.json")
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]["PromptVersion"] = (
        "v7"
    )
    body = convert(event).body
    assert body is not None
    [skipped] = triage(body, received_at=RECEIVED).skipped
    assert skipped.reason == "invalid label: prompt_version must be a positive integer"


@pytest.mark.parametrize(
    "break_it",
    [
        lambda e: e.update({"detail-type": "CloudWatch Alarm Configuration Change"}),
        lambda e: e["detail"]["state"].update({"value": "MAYBE"}),
        lambda e: e.update({"resources": []}),
        lambda e: e["detail"].pop("alarmName"),
    ],
)
def test_events_that_are_not_alarm_state_changes_are_refused(break_it: Any):
    event = source_fixture("cloudwatch-alarm-prompt.json")
    break_it(event)
    with pytest.raises(ValidationError):
        AlarmStateChangeEvent.model_validate(event)
