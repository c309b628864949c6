"""The change recorders in the stack: the signed Langfuse route, the CloudTrail rule, their permissions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.application import build_app
from tests.infra.conftest import SKIP_BUNDLING, Synthesized
from tests.infra.test_bedrock_access import BEDROCK_CONTEXT
from tests.infra.test_stack import as_list, role_of, statements_of_role


@pytest.fixture(scope="module")
def with_bedrock_and_management_events() -> Synthesized:
    context = {**SKIP_BUNDLING, **BEDROCK_CONTEXT, "trail_management_events": "true"}
    app, stack = build_app(context=context, nag=False)
    template = Template.from_stack(stack)
    return Synthesized(app=app, stack=stack, template=template, json=dict(template.to_json()))


def _method_for_path(synthesized: Synthesized, path_part: str) -> dict[str, Any]:
    resources = synthesized.resources("AWS::ApiGateway::Resource")
    [resource_id] = [rid for rid, r in resources.items() if r["Properties"]["PathPart"] == path_part]
    [method] = [
        m
        for m in synthesized.resources("AWS::ApiGateway::Method").values()
        if m["Properties"]["ResourceId"] == {"Ref": resource_id}
    ]
    return method


def test_langfuse_events_route_requires_the_signature_header_and_reaches_its_own_function(
    synthesized: Synthesized,
) -> None:
    method = _method_for_path(synthesized, "events")["Properties"]
    assert method["HttpMethod"] == "POST"
    assert method["RequestParameters"] == {"method.request.header.x-langfuse-signature": True}
    function_id = synthesized.logical_id(synthesized.stack.changes.langfuse_events.function)
    assert function_id in json.dumps(method["Integration"]["Uri"])


def test_langfuse_events_function_reads_the_webhook_secret_and_only_appends_to_the_ledger(
    synthesized: Synthesized,
) -> None:
    function = synthesized.stack.changes.langfuse_events
    environment = synthesized.resources("AWS::Lambda::Function")[synthesized.logical_id(function.function)][
        "Properties"
    ]["Environment"]["Variables"]
    assert set(environment) >= {"LANGFUSE_WEBHOOK_SECRET_NAME", "AUDIT_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME"}
    statements = statements_of_role(synthesized, role_of(synthesized, function.function))
    actions = {action for statement in statements for action in as_list(statement["Action"])}
    assert {"dynamodb:PutItem", "dynamodb:Query", "secretsmanager:GetSecretValue"} <= actions
    ledger_arn = {"Fn::GetAtt": [synthesized.logical_id(synthesized.stack.ledger.table), "Arn"]}
    on_ledger = {
        action
        for statement in statements
        if ledger_arn in as_list(statement["Resource"])
        for action in as_list(statement["Action"])
    }
    assert on_ledger == {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"}


def test_langfuse_events_function_may_send_monitor_alerts_to_the_rollback_queue_only(
    synthesized: Synthesized,
) -> None:
    function = synthesized.stack.changes.langfuse_events
    environment = synthesized.resources("AWS::Lambda::Function")[synthesized.logical_id(function.function)][
        "Properties"
    ]["Environment"]["Variables"]
    queue_id = synthesized.logical_id(synthesized.stack.worker.queue)
    assert environment["ROLLBACK_QUEUE_URL"] == {"Ref": queue_id}
    statements = statements_of_role(synthesized, role_of(synthesized, function.function))
    sqs_statements = [s for s in statements if any(a.startswith("sqs:") for a in as_list(s["Action"]))]
    assert [(as_list(s["Action"]), as_list(s["Resource"])) for s in sqs_statements] == [
        (["sqs:SendMessage"], [{"Fn::GetAtt": [queue_id, "Arn"]}])
    ]


def test_no_pointer_configured_means_no_cloudtrail_rule(synthesized: Synthesized) -> None:
    rules = synthesized.resources("AWS::Events::Rule").values()
    # The only rule left is the CloudWatch alarms' (infra/alert_sources.py), not CloudTrail's.
    assert [rule["Properties"]["EventPattern"]["source"] for rule in rules] == [["aws.cloudwatch"]]


def test_rule_matches_the_configured_pointer_calls_and_parks_failures_in_a_dlq(
    with_bedrock_and_management_events: Synthesized,
) -> None:
    synthesized = with_bedrock_and_management_events
    rule = synthesized.resources("AWS::Events::Rule")[synthesized.logical_id(synthesized.stack.changes.rule)]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    calls = {call["eventName"][0]: call["requestParameters"] for call in pattern["detail"]["$or"]}
    assert calls["UpdateAgentAlias"] == {
        "agentAliasId": ["ALIAS12345", "ALIAS67890"],
        "agentId": ["AGENT12345"],
    }
    assert calls["UpdateFlowAlias"] == {"aliasIdentifier": ["FALIAS1234"], "flowIdentifier": ["FLOW123456"]}
    assert calls["PutParameter"] == {"name": sorted(BEDROCK_CONTEXT["prompt_parameters"])}
    [target] = rule["Properties"]["Targets"]
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 8
    function = synthesized.stack.changes.cloudtrail_changes
    variables = synthesized.resources("AWS::Lambda::Function")[synthesized.logical_id(function.function)][
        "Properties"
    ]["Environment"]["Variables"]
    worker_role = synthesized.logical_id(synthesized.stack.worker.function.role)
    assert worker_role in json.dumps(variables["OWN_ROLE_ARNS"])


def test_management_events_are_recorded_when_asked_for(
    with_bedrock_and_management_events: Synthesized,
) -> None:
    _, trail = with_bedrock_and_management_events.only("AWS::CloudTrail::Trail")
    fields = [selector["FieldSelectors"] for selector in trail["Properties"]["AdvancedEventSelectors"]]
    assert [{"Field": "eventCategory", "Equals": ["Management"]}] in fields


def test_the_anchors_function_may_only_put_and_read_anchor_objects_in_the_locked_bucket(
    synthesized: Synthesized,
) -> None:
    bucket_id = synthesized.logical_id(synthesized.stack.trail.bucket)
    function = synthesized.stack.anchors.function
    statements = statements_of_role(synthesized, role_of(synthesized, function.function))
    on_bucket = [s for s in statements if bucket_id in json.dumps(s["Resource"])]
    assert [sorted(as_list(s["Action"])) for s in on_bucket] == [["s3:GetObject", "s3:PutObject"]]
    assert "ledger-anchors/*" in json.dumps(on_bucket[0]["Resource"])
    variables = synthesized.resources("AWS::Lambda::Function")[synthesized.logical_id(function.function)][
        "Properties"
    ]["Environment"]["Variables"]
    assert variables["ANCHOR_BUCKET_NAME"] == {"Ref": bucket_id}
