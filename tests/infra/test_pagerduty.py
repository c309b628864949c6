"""CDK assertions for PagerDuty: the routing key's placeholder secret, the worker's one grant to
read it, the PagerDutyFailures alarm, and the dashboard's incident widgets."""

from __future__ import annotations

import json

from tests.infra.conftest import Synthesized


def test_the_routing_key_is_a_generated_placeholder_the_worker_alone_reads(synthesized: Synthesized) -> None:
    key = synthesized.stack.secrets.pagerduty_routing_key
    secret = synthesized.json["Resources"][synthesized.logical_id(key.secret)]["Properties"]
    assert secret["Name"].endswith("/pagerduty-routing-key")
    # Shorter than the 32 characters of a routing key: the worker sees a placeholder, pages nobody.
    assert secret["GenerateSecretString"]["PasswordLength"] < 32
    worker = synthesized.stack.worker.function.function
    variables = synthesized.json["Resources"][synthesized.logical_id(worker)]["Properties"]["Environment"][
        "Variables"
    ]
    assert "PAGERDUTY_ROUTING_KEY_SECRET_NAME" in variables
    assert "PAGERDUTY_ROUTING_KEY" not in variables
    secret_ref = {"Ref": synthesized.logical_id(key.secret)}
    reader_roles = [
        role
        for policy in synthesized.resources("AWS::IAM::Policy").values()
        if any(s["Resource"] == secret_ref for s in policy["Properties"]["PolicyDocument"]["Statement"])
        for role in policy["Properties"]["Roles"]
    ]
    worker_role = synthesized.json["Resources"][synthesized.logical_id(worker)]["Properties"]["Role"]
    assert reader_roles == [{"Ref": worker_role["Fn::GetAtt"][0]}]


def test_pagerduty_failures_raise_an_alarm_on_the_first_one(synthesized: Synthesized) -> None:
    topic_id = synthesized.logical_id(synthesized.stack.monitoring.topic)
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "PromptRollback",
            "MetricName": "PagerDutyFailures",
            "Dimensions": [{"Name": "service", "Value": "prompt-rollback"}],
            "Statistic": "Sum",
            "Threshold": 1,
            "EvaluationPeriods": 1,
            "AlarmActions": [{"Ref": topic_id}],
        },
    )


def test_the_dashboard_shows_recovery_people_anchors_and_pagerduty(synthesized: Synthesized) -> None:
    _, dashboard = synthesized.only("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in (
        "RollbacksRecovered",
        "RecoveryOverdue",
        "RollbacksApproved",
        "RollbacksUndone",
        "RollbacksRejected",
        "SlackActionsRefused",
        "AnchorWriteFailures",
        "PagerDutyFailures",
    ):
        assert f'\\"{metric}\\"' in body, metric
    for title in ("Recovery", "People actions", "Ledger anchors", "PagerDuty"):
        assert f'\\"title\\":\\"{title}\\"' in body, title
