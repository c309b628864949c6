"""The opt-in watcher: off by default; when on, a 5-minute schedule, its state table, a role that
can do only what a run does, an alarm after N failed runs, cdk-nag clean, settings checked at synth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra.application import build_app
from infra.config import InvalidDeploymentConfig
from infra.watcher import WATCHER
from tests.infra.conftest import SKIP_BUNDLING, Synthesized
from tests.infra.test_cfn_lint import findings
from tests.infra.test_stack import as_list, role_of, statements_of_role


@pytest.fixture(scope="module")
def with_watcher() -> Iterator[Synthesized]:
    context = {
        **SKIP_BUNDLING,
        "watcher_enabled": "true",  # as `-c watcher_enabled=true` passes it
        "watcher": {"prompts": {"search-*": {"exact_match": {"threshold": 0.02, "for_minutes": 30}}}},
    }
    app, stack = build_app(context=context, nag=False)
    template = Template.from_stack(stack)
    yield Synthesized(app=app, stack=stack, template=template, json=dict(template.to_json()))


def test_watcher_is_off_by_default(synthesized: Synthesized) -> None:
    assert synthesized.stack.watcher is None
    assert synthesized.resources("AWS::Scheduler::Schedule") == {}
    handlers = {r["Properties"]["Handler"] for r in synthesized.resources("AWS::Lambda::Function").values()}
    assert WATCHER.handler not in handlers


def test_schedule_runs_the_watcher_every_five_minutes_without_a_flexible_window(
    with_watcher: Synthesized,
) -> None:
    assert with_watcher.stack.watcher is not None
    _, schedule = with_watcher.only("AWS::Scheduler::Schedule")
    properties = schedule["Properties"]
    assert properties["ScheduleExpression"] == "rate(5 minutes)"
    assert properties["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert properties["State"] == "ENABLED"
    function_id = with_watcher.logical_id(with_watcher.stack.watcher.function.function)
    assert properties["Target"]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert properties["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0

    # The Scheduler's role may invoke the watcher and nothing else.
    scheduler_role_id = properties["Target"]["RoleArn"]["Fn::GetAtt"][0]
    statements = statements_of_role(with_watcher, scheduler_role_id)
    assert {a for s in statements for a in as_list(s["Action"])} == {"lambda:InvokeFunction"}
    resources = json.dumps([s["Resource"] for s in statements])
    assert function_id in resources and '"*"' not in resources


def test_watcher_role_is_least_privilege(with_watcher: Synthesized) -> None:
    watcher = with_watcher.stack.watcher
    assert watcher is not None
    statements = statements_of_role(with_watcher, role_of(with_watcher, watcher.function.function))
    by_sid = {s.get("Sid"): s for s in statements}
    table_id = with_watcher.logical_id(watcher.state_table)
    assert set(as_list(by_sid["KeepForStates"]["Action"])) == {
        "dynamodb:Scan",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
    }
    assert by_sid["KeepForStates"]["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}
    queue_id = with_watcher.logical_id(with_watcher.stack.worker.queue)
    assert by_sid["QueueRollbackRequests"]["Action"] == "sqs:SendMessage"
    assert by_sid["QueueRollbackRequests"]["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert by_sid["ReadLangfuseKeys"]["Action"] == "secretsmanager:GetSecretValue"
    # Of the audit ledger, only reading one prompt's records (the baseline): nothing written.
    ledger_id = with_watcher.logical_id(with_watcher.stack.ledger.table)
    assert by_sid["ReadAuditLedger"]["Action"] == "dynamodb:Query"
    assert by_sid["ReadAuditLedger"]["Resource"] == {"Fn::GetAtt": [ledger_id, "Arn"]}
    writes = [
        s for s in statements if ledger_id in json.dumps(s["Resource"]) and s["Action"] != "dynamodb:Query"
    ]
    assert writes == []
    actions = {a for s in statements for a in as_list(s["Action"])}
    # Nothing of the idempotency table, Bedrock, SSM or Slack's secret.
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "dynamodb:Scan",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "sqs:SendMessage",
        "kms:GenerateDataKey",
        "kms:Decrypt",
        "secretsmanager:GetSecretValue",
    }


def test_watcher_environment_carries_the_checked_settings(with_watcher: Synthesized) -> None:
    watcher = with_watcher.stack.watcher
    assert watcher is not None
    function = with_watcher.json["Resources"][with_watcher.logical_id(watcher.function.function)]
    properties = function["Properties"]
    assert properties["Handler"] == WATCHER.handler
    variables = properties["Environment"]["Variables"]
    assert variables["WATCH_STATE_TABLE_NAME"] == {"Ref": with_watcher.logical_id(watcher.state_table)}
    assert variables["ROLLBACK_QUEUE_URL"] == {
        "Ref": with_watcher.logical_id(with_watcher.stack.worker.queue)
    }
    assert variables["AUDIT_TABLE_NAME"] == {"Ref": with_watcher.logical_id(with_watcher.stack.ledger.table)}
    config = json.loads(variables["WATCHER_CONFIG"])
    assert config["prompts"] == {"search-*": {"exact_match": {"threshold": 0.02, "for_minutes": 30}}}
    assert config["triggers"] == {}
    # Every measurement setting is spelled out, so the function reads what synth checked.
    assert (config["exact_match_score"], config["score_window_minutes"]) == ("exact_match", 30)


def test_state_table_is_on_demand_and_recoverable(with_watcher: Synthesized) -> None:
    watcher = with_watcher.stack.watcher
    assert watcher is not None
    table = with_watcher.json["Resources"][with_watcher.logical_id(watcher.state_table)]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_alarm_after_three_failed_runs_notifies_the_alarm_topic(with_watcher: Synthesized) -> None:
    watcher = with_watcher.stack.watcher
    assert watcher is not None
    alarm = with_watcher.json["Resources"][with_watcher.logical_id(watcher.failed_runs_alarm)]["Properties"]
    assert alarm["EvaluationPeriods"] == 3
    assert alarm["DatapointsToAlarm"] == 3
    assert alarm["TreatMissingData"] == "notBreaching"
    metrics: list[dict[str, Any]] = alarm["Metrics"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in metrics if "MetricStat" in m}
    assert names == {"WatcherNoData", "WatcherSendFailures", "Errors"}
    assert all(m["MetricStat"]["Period"] == 300 for m in metrics if "MetricStat" in m)
    topic_id = with_watcher.logical_id(with_watcher.stack.monitoring.topic)
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_cdk_nag_passes_with_the_watcher(with_watcher: Synthesized) -> None:
    report = AwsSolutionsChecks(with_watcher.app).validate_scope(with_watcher.app)
    findings = [
        f"{violation.rule_name}: {[r.construct_path for r in violation.violating_resources]}"
        for violation in report.violations
    ]
    assert report.success, "\n".join(findings)


@pytest.mark.parametrize(
    ("override", "expected_in_message"),
    [
        ({"watcher": {"triggers": {"exactmatch": {}}}}, "unknown trigger 'exactmatch'"),
        ({"watcher": {"triggers": {"latency_p99": {"threshold": 0.8}}}}, "must be a ratio above 1"),
        ({"watcher": {"triggers": {"error_rate": {"threshold": 5}}}}, "must be between 0 and 1"),
        (
            {"watcher": {"prompts": {"search-*": {"thumbs_down": {"for": 5}}}}},
            "Extra inputs are not permitted",
        ),
        ({"watcher": {"prompts": {"search-*": {"nope": {"enabled": False}}}}}, "prompts['search-*']"),
        ({"watcher": {"triggers": {"exact_match": {"min_samples": 0}}}}, "min_samples"),
        ({"watcher": '{"triggers": {"exact_match": {"for_minutes": -1}}}'}, "for_minutes"),
        ({"watcher_schedule_minutes": 0}, "watcher_schedule_minutes"),
        ({"watcher_failed_runs_alarm": "many"}, "watcher_failed_runs_alarm"),
    ],
)
def test_bad_watcher_settings_fail_synth(override: dict[str, Any], expected_in_message: str) -> None:
    with pytest.raises(InvalidDeploymentConfig) as raised:
        build_app(context={**SKIP_BUNDLING, "watcher_enabled": True, **override}, nag=False)
    assert expected_in_message in str(raised.value)


def test_template_with_the_watcher_is_cfn_lint_clean(with_watcher: Synthesized) -> None:
    assert findings(with_watcher.json) == []
