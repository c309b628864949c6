"""Failure paths and trust boundaries of the stack: every function alarmed, every asynchronous
invocation parked when it fails, the ledger anchored off the hot path, the API throttled per route."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Validations
from aws_cdk.assertions import Template

from infra.application import build_app
from infra.config import InvalidDeploymentConfig
from tests.infra.conftest import SKIP_BUNDLING, Synthesized
from tests.infra.test_stack import as_list, role_of, statements_of_role

AMP_WORKSPACE = "arn:aws:aps:us-east-1:123456789012:workspace/ws-0123abcd-4567-89ef"


def alarms_on(synthesized: Synthesized, logical_id: str) -> list[dict[str, Any]]:
    return [
        alarm["Properties"]
        for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()
        if f'"{logical_id}"' in json.dumps(alarm["Properties"])
    ]


def test_every_function_has_an_errors_alarm(synthesized: Synthesized) -> None:
    functions = synthesized.resources("AWS::Lambda::Function")
    assert len(functions) >= 7
    for function_id in functions:
        errors = [a for a in alarms_on(synthesized, function_id) if "Errors" in json.dumps(a)]
        assert errors, f"{function_id} has no Errors alarm"


def _async_invoked(template: dict[str, Any]) -> set[str]:
    """Functions that EventBridge rules, SNS subscriptions and Scheduler schedules invoke."""
    invoked: set[str] = set()
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        targets = {
            "AWS::Events::Rule": properties.get("Targets", []),
            "AWS::SNS::Subscription": [{"Arn": properties.get("Endpoint")}]
            if properties.get("Protocol") == "lambda"
            else [],
            "AWS::Scheduler::Schedule": [properties.get("Target", {})],
        }.get(resource["Type"], [])
        for target in targets:
            arn = json.dumps(target.get("Arn"))
            invoked.update(
                logical_id
                for logical_id, other in template["Resources"].items()
                if other["Type"] == "AWS::Lambda::Function" and f'["{logical_id}", "Arn"]' in arn
            )
    return invoked


@pytest.fixture(scope="module")
def with_watcher() -> Template:
    _, stack = build_app(
        context={
            **SKIP_BUNDLING,
            "watcher_enabled": True,
            "prompt_parameters": ["/prompts/a"],
            "bedrock_prompt_ids": ["PROMPT1234"],
        },
        nag=False,
    )
    return Template.from_stack(stack)


def test_every_asynchronously_invoked_function_parks_what_fails_in_an_alarmed_queue(
    with_watcher: Template,
) -> None:
    template = with_watcher.to_json()
    invoked = _async_invoked(template)
    # Alert events (SNS + EventBridge), the CloudTrail change recorder, the watcher (Scheduler).
    assert len(invoked) == 3
    configs = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
    ]
    alarms = json.dumps([r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"])
    for function_id in invoked:
        [config] = [c for c in configs if c["FunctionName"] == {"Ref": function_id}]
        destination = config["DestinationConfig"]["OnFailure"]["Destination"]
        queue_id = destination["Fn::GetAtt"][0]
        assert template["Resources"][queue_id]["Type"] == "AWS::SQS::Queue"
        assert f'"QueueName", "Value": {{"Fn::GetAtt": ["{queue_id}"' in alarms.replace('"Name": ', ""), (
            queue_id
        )


def test_api_5xx_and_a_waiting_rollback_request_page(synthesized: Synthesized) -> None:
    alarms = [a["Properties"] for a in synthesized.resources("AWS::CloudWatch::Alarm").values()]
    [api] = [a for a in alarms if a.get("Namespace") == "AWS/ApiGateway" and a["MetricName"] == "5XXError"]
    assert api["Threshold"] == 1
    queue_id = synthesized.logical_id(synthesized.stack.worker.queue)
    [age] = [a for a in alarms if a.get("MetricName") == "ApproximateAgeOfOldestMessage"]
    assert age["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert age["Threshold"] == 900 and age["AlarmActions"]


def test_recovery_schedules_park_undelivered_checks(synthesized: Synthesized) -> None:
    checks = synthesized.stack.recovery_checks
    queue_id = synthesized.logical_id(checks.dead_letter_queue)
    worker_id = synthesized.logical_id(synthesized.stack.worker.function.function)
    variables = synthesized.json["Resources"][worker_id]["Properties"]["Environment"]["Variables"]
    assert variables["RECOVERY_DEAD_LETTER_QUEUE_ARN"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    role = synthesized.json["Resources"][synthesized.logical_id(checks.role)]
    sends = [
        s
        for p in role["Properties"]["Policies"]
        for s in p["PolicyDocument"]["Statement"]
        if s["Action"] == "sqs:SendMessage"
    ]
    assert {"Fn::GetAtt": [queue_id, "Arn"]} in [s["Resource"] for s in sends]
    assert alarms_on(synthesized, queue_id)


def test_only_the_anchors_function_writes_anchors_from_the_ledger_stream(synthesized: Synthesized) -> None:
    stack = synthesized.stack
    table = synthesized.json["Resources"][synthesized.logical_id(stack.ledger.table)]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    bucket_id = synthesized.logical_id(stack.trail.bucket)
    for writer in (stack.worker.function, stack.changes.langfuse_events, stack.changes.cloudtrail_changes):
        statements = statements_of_role(synthesized, role_of(synthesized, writer.function))
        assert not [s for s in statements if bucket_id in json.dumps(s["Resource"])]
        variables = synthesized.json["Resources"][synthesized.logical_id(writer.function)]["Properties"]
        assert "ANCHOR_BUCKET_NAME" not in variables["Environment"]["Variables"]
    anchors = stack.anchors.function.function
    anchors_id = synthesized.logical_id(anchors)
    statements = statements_of_role(synthesized, role_of(synthesized, anchors))
    actions = {action for s in statements for action in as_list(s["Action"])}
    assert not {
        a
        for a in actions
        if a.startswith("dynamodb:")
        and "Stream" not in a
        and a != "dynamodb:GetRecords"
        and a != "dynamodb:GetShardIterator"
    }
    [on_bucket] = [s for s in statements if bucket_id in json.dumps(s["Resource"])]
    assert sorted(as_list(on_bucket["Action"])) == ["s3:GetObject", "s3:PutObject"]
    [mapping] = [
        m["Properties"]
        for m in synthesized.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": anchors_id}
    ]
    assert mapping["EventSourceArn"] == {
        "Fn::GetAtt": [synthesized.logical_id(stack.ledger.table), "StreamArn"]
    }
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    parked = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    assert alarms_on(synthesized, parked)
    metrics = {
        a["Properties"].get("MetricName") for a in synthesized.resources("AWS::CloudWatch::Alarm").values()
    }
    assert {"AnchorWriteFailures", "LedgerRewrites"} <= metrics


def test_an_anchors_function_falling_behind_the_ledger_stream_pages_long_before_records_expire(
    synthesized: Synthesized,
) -> None:
    """The stream keeps records 24 hours: a consumer stuck longer loses them, and their chain heads
    are never anchored. Its iterator age pages at an hour."""
    anchors_id = synthesized.logical_id(synthesized.stack.anchors.function.function)
    [behind] = [a for a in alarms_on(synthesized, anchors_id) if a.get("MetricName") == "IteratorAge"]
    assert behind["Statistic"] == "Maximum" and behind["Threshold"] == 3_600_000  # milliseconds
    assert behind["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert behind["AlarmActions"] and behind["TreatMissingData"] == "notBreaching"


def test_each_route_has_its_own_throttle(synthesized: Synthesized) -> None:
    _, stage = synthesized.only("AWS::ApiGateway::Stage")
    by_route = {
        (s["ResourcePath"], s["HttpMethod"]): (s.get("ThrottlingRateLimit"), s.get("ThrottlingBurstLimit"))
        for s in stage["Properties"]["MethodSettings"]
    }
    assert by_route[("/~1alerts", "POST")] == (10, 20)
    assert by_route[("/~1langfuse~1events", "POST")] == (5, 10)
    assert by_route[("/~1slack~1actions", "POST")] == (5, 10)
    _, stack = build_app(
        context={
            **SKIP_BUNDLING,
            "api_route_throttles": '{"alerts": {"rate_limit": 50, "burst_limit": 100}}',
        },
        nag=False,
    )
    [stage] = [
        r
        for r in Template.from_stack(stack).to_json()["Resources"].values()
        if r["Type"] == "AWS::ApiGateway::Stage"
    ]
    settings = {
        s["ResourcePath"]: s.get("ThrottlingRateLimit") for s in stage["Properties"]["MethodSettings"]
    }
    assert settings["/~1alerts"] == 50 and settings["/~1slack~1actions"] == 5


def test_waf_is_opt_in_with_a_rate_rule_per_ip_and_an_allow_list_for_alerts(synthesized: Synthesized) -> None:
    assert not synthesized.resources("AWS::WAFv2::WebACL")
    _, stack = build_app(
        context={**SKIP_BUNDLING, "waf_enabled": "true", "alerts_allowed_cidrs": "203.0.113.0/24"}, nag=False
    )
    resources = Template.from_stack(stack).to_json()["Resources"]
    [acl_id] = [k for k, r in resources.items() if r["Type"] == "AWS::WAFv2::WebACL"]
    rules = {rule["Name"]: rule for rule in resources[acl_id]["Properties"]["Rules"]}
    assert rules["RatePerIp"]["Statement"]["RateBasedStatement"] == {"AggregateKeyType": "IP", "Limit": 300}
    outside = rules["AlertsFromAllowedAddressesOnly"]
    assert "Block" in outside["Action"]
    path, not_allowed = outside["Statement"]["AndStatement"]["Statements"]
    assert path["ByteMatchStatement"]["SearchString"] == "/dev/alerts"
    [ip_set] = [r for r in resources.values() if r["Type"] == "AWS::WAFv2::IPSet"]
    assert ip_set["Properties"]["Addresses"] == ["203.0.113.0/24"]
    assert "IPSetReferenceStatement" in not_allowed["NotStatement"]["Statement"]
    [association] = [r for r in resources.values() if r["Type"] == "AWS::WAFv2::WebACLAssociation"]
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}


def test_only_alarms_named_with_the_prefix_roll_prompts_back(synthesized: Synthesized) -> None:
    rule_id = synthesized.logical_id(synthesized.stack.sources.alarm_rule)
    detail = synthesized.json["Resources"][rule_id]["Properties"]["EventPattern"]["detail"]
    assert detail["alarmName"] == [{"prefix": "prompt-rollback-"}]


def test_live_rollbacks_require_the_amp_workspace() -> None:
    with pytest.raises(InvalidDeploymentConfig, match="dry_run=false needs amp_workspace_arn"):
        build_app(context={**SKIP_BUNDLING, "dry_run": "false"}, nag=False)
    build_app(context={**SKIP_BUNDLING, "dry_run": "false", "amp_workspace_arn": AMP_WORKSPACE}, nag=False)


def test_cloudwatch_may_use_the_alarm_topic_key_for_this_account_only(synthesized: Synthesized) -> None:
    key_id = synthesized.logical_id(synthesized.stack.app_key)
    statements = synthesized.json["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    [cloudwatch] = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_the_wildcard_resource_is_acknowledged_only_where_aws_requires_it(synthesized: Synthesized) -> None:
    where = [
        construct.node.path
        for construct in synthesized.app.node.find_all()
        for entry in construct.node.metadata
        if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        and any(rule.endswith("AwsSolutions-IAM5[Resource::*]") for rule in dict(entry.data))
    ]
    # The X-Ray policies, one per function, and the anchors role (dynamodb:ListStreams).
    assert all(path.endswith("/XRayTracing") for path in where if "LedgerAnchors/Function/Role" not in path)
    assert len([path for path in where if path.endswith("/XRayTracing")]) == len(
        synthesized.resources("AWS::Lambda::Function")
    )
    assert "PromptRollback-dev/LedgerAnchors/Function/Role" in where
    assert not [path for path in where if path.endswith("/Role") and "LedgerAnchors" not in path]
