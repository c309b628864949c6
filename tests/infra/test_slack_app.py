"""CDK assertions for Slack app mode: POST /slack/actions, its function's access, the secrets,
the recovery checks' scheduler and the RecoveryOverdue alarm."""

from __future__ import annotations

import json
from typing import Any

from infra.audit_ledger import REQUEST_ID_INDEX_NAME
from tests.infra.conftest import Synthesized


def _statements(synthesized: Synthesized, function: Any) -> list[dict[str, Any]]:
    role_id = synthesized.json["Resources"][synthesized.logical_id(function)]["Properties"]["Role"][
        "Fn::GetAtt"
    ][0]
    found = []
    for resource in synthesized.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in resource["Properties"]["Roles"]:
            found.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return found


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}


def test_slack_actions_route_requires_slacks_signature_headers_and_goes_to_its_own_function(
    synthesized: Synthesized,
) -> None:
    method = synthesized.json["Resources"][synthesized.logical_id(synthesized.stack.slack_actions.method)]
    properties = method["Properties"]
    assert properties["HttpMethod"] == "POST"
    assert properties["RequestParameters"] == {
        "method.request.header.X-Slack-Signature": True,
        "method.request.header.X-Slack-Request-Timestamp": True,
    }
    resource = synthesized.json["Resources"][properties["ResourceId"]["Ref"]]
    parent = synthesized.json["Resources"][resource["Properties"]["ParentId"]["Ref"]]
    assert (parent["Properties"]["PathPart"], resource["Properties"]["PathPart"]) == ("slack", "actions")
    function_id = synthesized.logical_id(synthesized.stack.slack_actions.function.function)
    assert function_id in json.dumps(properties["Integration"]["Uri"])
    function = synthesized.json["Resources"][function_id]["Properties"]
    assert function["Timeout"] == 3  # Slack's 3 seconds
    assert (
        function["Environment"]["Variables"]["SLACK_SIGNING_SECRET_NAME"]
        == "prompt-rollback/dev/slack-signing-secret"
    )


def test_slack_actions_function_may_only_read_its_secret_query_the_rollback_index_and_queue(
    synthesized: Synthesized,
) -> None:
    statements = _statements(synthesized, synthesized.stack.slack_actions.function.function)
    assert _actions(statements) == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "secretsmanager:GetSecretValue",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:GenerateDataKey",
        "sqs:SendMessage",
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    (query,) = [s for s in statements if s["Action"] == "dynamodb:Query"]
    assert json.dumps(query["Resource"]).endswith(f'/index/{REQUEST_ID_INDEX_NAME}"]]}}')
    writes = [s for s in statements if "dynamodb:PutItem" in s["Action"]]
    ledger_id = synthesized.logical_id(synthesized.stack.ledger.table)
    assert all(ledger_id not in json.dumps(s["Resource"]) for s in writes)  # never the ledger


def test_worker_schedules_checks_in_its_group_and_passes_only_the_scheduler_role(
    synthesized: Synthesized,
) -> None:
    statements = _statements(synthesized, synthesized.stack.worker.function.function)
    (create,) = [s for s in statements if s["Action"] == "scheduler:CreateSchedule"]
    group_id = synthesized.stack.resolve(synthesized.stack.recovery_checks.group.logical_id)
    assert group_id in json.dumps(create["Resource"])
    (pass_role,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    role_id = synthesized.logical_id(synthesized.stack.recovery_checks.role)
    assert pass_role["Resource"] == {"Fn::GetAtt": [role_id, "Arn"]}
    role = synthesized.json["Resources"][role_id]["Properties"]
    documents = {p["PolicyName"]: p["PolicyDocument"] for p in role["Policies"]}
    assert set(documents) == {"SendRecoveryChecks", "ParkUndeliveredChecks"}
    for document in documents.values():
        assert _actions(document["Statement"]) == {"sqs:SendMessage", "kms:GenerateDataKey", "kms:Decrypt"}
    queue = synthesized.json["Resources"][synthesized.logical_id(synthesized.stack.worker.queue)][
        "Properties"
    ]
    assert queue["ContentBasedDeduplication"] is True  # required of a Scheduler FIFO target


def test_recovery_overdue_and_unscheduled_checks_alarm(synthesized: Synthesized) -> None:
    alarms = {
        alarm["Properties"].get("MetricName"): alarm["Properties"]
        for alarm in synthesized.resources("AWS::CloudWatch::Alarm").values()
    }
    for metric in ("RecoveryOverdue", "RecoveryCheckNotScheduled"):
        assert alarms[metric]["Threshold"] == 1
        assert alarms[metric]["Namespace"] == "PromptRollback"
