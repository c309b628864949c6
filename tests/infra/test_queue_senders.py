"""Only the producers may send to the rollback queue, and the worker knows which of them is the
Slack actions function: the role whose queued clicks it acts on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.application import build_app
from tests.infra.conftest import SKIP_BUNDLING, Synthesized
from tests.infra.test_stack import as_list, role_of, statements_of_role

REDRIVER = "arn:aws:iam::123456789012:role/oncall-redrive"


@pytest.fixture(scope="module")
def with_watcher_and_redriver() -> Iterator[Synthesized]:
    context = {**SKIP_BUNDLING, "watcher_enabled": "true", "queue_redrive_role_arns": REDRIVER}
    app, stack = build_app(context=context, nag=False)
    template = Template.from_stack(stack)
    yield Synthesized(app=app, stack=stack, template=template, json=dict(template.to_json()))


def _granted_senders(synthesized: Synthesized, queue_arn: dict[str, Any]) -> set[str]:
    """Every role whose policies allow sqs:SendMessage on the queue."""
    return {
        role_id
        for role_id in synthesized.resources("AWS::IAM::Role")
        for statement in statements_of_role(synthesized, role_id)
        if statement["Effect"] == "Allow"
        and "sqs:SendMessage" in as_list(statement["Action"])
        and queue_arn in as_list(statement["Resource"])
    }


def _deny_to_others(synthesized: Synthesized, queue_id: str) -> dict[str, Any]:
    [deny] = [
        statement
        for policy in synthesized.resources("AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in policy["Properties"]["Queues"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny" and "sqs:SendMessage" in as_list(statement["Action"])
    ]
    return deny


@pytest.mark.parametrize("stack", ["synthesized", "with_watcher_and_redriver"])
def test_the_queue_denies_sending_to_every_role_but_its_producers(stack: str, request: Any) -> None:
    synthesized: Synthesized = request.getfixturevalue(stack)
    queue_id = synthesized.logical_id(synthesized.stack.worker.queue)
    queue_arn = {"Fn::GetAtt": [queue_id, "Arn"]}
    deny = _deny_to_others(synthesized, queue_id)
    assert deny["Principal"] == {"AWS": "*"}
    assert deny["Resource"] == queue_arn
    admitted = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    admitted_roles = {entry["Fn::GetAtt"][0] for entry in admitted if isinstance(entry, dict)}
    granted = _granted_senders(synthesized, queue_arn)
    assert admitted_roles == granted  # a new producer must be admitted, and nobody else is
    expected = 6 if synthesized.stack.watcher is not None else 5
    assert len(granted) == expected
    redrivers = [entry for entry in admitted if isinstance(entry, str)]
    assert redrivers == ([REDRIVER] if synthesized.stack.watcher is not None else [])


def test_the_worker_acts_only_on_clicks_the_slack_actions_role_queued(synthesized: Synthesized) -> None:
    worker_id = synthesized.logical_id(synthesized.stack.worker.function.function)
    variables = synthesized.json["Resources"][worker_id]["Properties"]["Environment"]["Variables"]
    slack_role = role_of(synthesized, synthesized.stack.slack_actions.function.function)
    assert variables["SLACK_ACTIONS_ROLE_ID"] == {"Fn::GetAtt": [slack_role, "RoleId"]}
