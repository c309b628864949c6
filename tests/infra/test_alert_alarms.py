"""Alerts the webhook could not act on page someone: a misconfigured rule (skipped alerts) and
alerts Alertmanager never sent (truncated), both of which would otherwise leave a log line only."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import Synthesized


@pytest.mark.parametrize("metric", ["AlertsMisconfigured", "AlertsTruncated"])
def test_alerts_that_cannot_roll_back_raise_an_alarm_on_the_first_one(
    synthesized: Synthesized, metric: str
) -> None:
    topic_id = synthesized.logical_id(synthesized.stack.monitoring.topic)
    synthesized.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "PromptRollback",
            "MetricName": metric,
            # The webhook's Powertools metrics carry only the service dimension.
            "Dimensions": [{"Name": "service", "Value": "prompt-rollback"}],
            "Statistic": "Sum",
            "Threshold": 1,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": topic_id}],
            "OKActions": [{"Ref": topic_id}],
        },
    )


def test_the_dashboard_shows_misconfigured_and_truncated_alerts(synthesized: Synthesized) -> None:
    _, dashboard = synthesized.only("AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in ("AlertsMisconfigured", "AlertsTruncated"):
        assert f'\\"{metric}\\"' in body, metric
