"""The AMP topic, the alarm rule, the alert-events function and its dead-letter queue (docs/sources.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from cdk_nag import AwsSolutionsChecks

from infra.application import build_app
from tests.infra.conftest import SKIP_BUNDLING, Synthesized

WORKSPACE = "arn:aws:aps:us-east-1:123456789012:workspace/ws-12345678-abcd-1234-abcd-123456789012"


def from_amp(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    return isinstance(principal, dict) and principal.get("Service") == "aps.amazonaws.com"


def alert_events_function(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    [(logical_id, function)] = [
        (lid, f)
        for lid, f in synthesized.resources("AWS::Lambda::Function").items()
        if f["Properties"]["Handler"] == "prompt_rollback.sources.events_handler.lambda_handler"
    ]
    return logical_id, function


def policy_statements(synthesized: Synthesized, role_logical_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_amp_topic_is_standard_kms_encrypted_and_named_for_the_alert_manager_definition(
    synthesized: Synthesized,
):
    synthesized.template.has_resource_properties(
        "AWS::SNS::Topic",
        {
            "TopicName": "prompt-rollback-dev-amp-alerts",
            "KmsMasterKeyId": Match.any_value(),
            "FifoTopic": Match.absent(),
        },
    )


def test_only_amp_of_this_account_may_publish(synthesized: Synthesized):
    policies = [
        s
        for p in synthesized.resources("AWS::SNS::TopicPolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if from_amp(s)
    ]
    [statement] = policies
    assert sorted(statement["Action"]) == ["sns:GetTopicAttributes", "sns:Publish"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_a_workspace_arn_in_context_scopes_the_topic_and_its_key_to_it():
    _, stack = build_app(context={**SKIP_BUNDLING, "amp_workspace_arn": WORKSPACE}, nag=False)
    template = Template.from_stack(stack).to_json()
    scoped = [
        s
        for r in template["Resources"].values()
        if r["Type"] in ("AWS::SNS::TopicPolicy", "AWS::KMS::Key")
        for s in (r["Properties"].get("PolicyDocument") or r["Properties"].get("KeyPolicy"))["Statement"]
        if from_amp(s)
    ]
    assert len(scoped) == 2
    for statement in scoped:
        assert statement["Condition"]["ArnEquals"] == {"aws:SourceArn": WORKSPACE}


def test_a_malformed_workspace_arn_fails_synth():
    from infra.config import InvalidDeploymentConfig

    with pytest.raises(InvalidDeploymentConfig, match="amp_workspace_arn"):
        build_app(context={**SKIP_BUNDLING, "amp_workspace_arn": "ws-123"}, nag=False)


def test_the_function_is_subscribed_with_a_dead_letter_queue(synthesized: Synthesized):
    function_id, _ = alert_events_function(synthesized)
    [subscription] = synthesized.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "lambda"
    assert subscription["Properties"]["Endpoint"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert "RedrivePolicy" in subscription["Properties"]


def test_alarm_state_changes_of_prompt_alarms_reach_the_function(synthesized: Synthesized):
    function_id, _ = alert_events_function(synthesized)
    [rule] = synthesized.resources("AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.cloudwatch"]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    dimensions = pattern["detail"]["configuration"]["metrics"]["metricStat"]["metric"]["dimensions"]
    assert dimensions == {"PromptName": [{"exists": True}]}
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 8


def test_failed_invocations_go_to_the_dead_letter_queue_which_has_an_alarm(synthesized: Synthesized):
    function_id, _ = alert_events_function(synthesized)
    [config] = [
        c
        for c in synthesized.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert config["Properties"]["MaximumRetryAttempts"] == 2
    destination = config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
    queue_id = destination["Fn::GetAtt"][0]
    assert synthesized.json["Resources"][queue_id]["Type"] == "AWS::SQS::Queue"
    alarms = [
        a
        for a in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    ]
    [alarm] = alarms
    assert alarm["Properties"]["Threshold"] == 1
    assert alarm["Properties"]["AlarmActions"]


def test_the_function_may_only_queue_and_write_its_own_logs(synthesized: Synthesized):
    _, function = alert_events_function(synthesized)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    actions = sorted(
        action
        for statement in policy_statements(synthesized, role_id)
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    )
    assert actions == sorted(
        [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "sqs:SendMessage",  # the rollback queue
            "kms:GenerateDataKey",
            "kms:Decrypt",
            "sqs:SendMessage",  # its dead-letter queue (failure destination)
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
        ]
    )
    assert function["Properties"]["Environment"]["Variables"]["ROLLBACK_QUEUE_URL"]


def test_grafana_hmac_is_off_by_default(synthesized: Synthesized):
    names = [
        s["Properties"].get("Name") for s in synthesized.resources("AWS::SecretsManager::Secret").values()
    ]
    assert "prompt-rollback/dev/grafana-hmac" not in names


def test_grafana_hmac_creates_a_secret_only_the_webhook_reads():
    app, stack = build_app(context={**SKIP_BUNDLING, "grafana_hmac": True}, nag=False)
    template = Template.from_stack(stack).to_json()
    resources = template["Resources"]
    [secret_id] = [
        lid
        for lid, r in resources.items()
        if r["Type"] == "AWS::SecretsManager::Secret"
        and r["Properties"]["Name"] == "prompt-rollback/dev/grafana-hmac"
    ]
    readers = [
        policy["Properties"]["Roles"]
        for policy in resources.values()
        if policy["Type"] == "AWS::IAM::Policy"
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Resource"] == {"Ref": secret_id}
    ]
    [[role]] = readers
    [webhook] = [
        f
        for f in resources.values()
        if f["Type"] == "AWS::Lambda::Function"
        and f["Properties"]["Handler"] == "prompt_rollback.sources.webhook_handler.lambda_handler"
    ]
    assert webhook["Properties"]["Role"]["Fn::GetAtt"][0] == role["Ref"]
    variables = webhook["Properties"]["Environment"]["Variables"]
    assert variables["GRAFANA_HMAC_SECRET_NAME"] == "prompt-rollback/dev/grafana-hmac"
    assert variables["GRAFANA_TIMESTAMP_HEADER"] == "X-Grafana-Alerting-Timestamp"
    report = AwsSolutionsChecks(app).validate_scope(app)
    assert report.success, [v.rule_name for v in report.violations]


def test_outputs_name_the_topic_and_the_function_for_replays(synthesized: Synthesized):
    outputs = synthesized.json["Outputs"]
    assert {"AmpAlertTopicArn", "AlertEventsFunctionName", "AlertEventsDeadLetterQueueUrl"} <= set(outputs)
    assert json.dumps(outputs["AmpAlertTopicArn"]["Value"]).count("Ref") == 1
