"""cfn-lint over every template the test suite synthesizes: the default stack and the one with
Bedrock and SSM pointers. Clean, except what infra/functions.py accepts on the functions, with why."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template
from cfnlint.api import ManualArgs, lint

from infra.application import build_app
from infra.functions import CFN_LINT_IGNORED
from tests.infra.conftest import SKIP_BUNDLING, Synthesized
from tests.infra.test_bedrock_access import BEDROCK_CONTEXT


@pytest.fixture(scope="module")
def with_bedrock() -> dict[str, Any]:
    _, stack = build_app(context={**SKIP_BUNDLING, **BEDROCK_CONTEXT}, nag=False)
    return dict(Template.from_stack(stack).to_json())


def findings(template: dict[str, Any]) -> list[str]:
    # Errors and warnings (informational I-checks would only ask CDK for Fn::Sub over Fn::Join); the
    # stack is environment-agnostic: checked against two regions.
    config = ManualArgs(regions=["us-east-1", "eu-west-1"])
    return [
        f"{m.rule.id} {'/'.join(map(str, m.path))}: {m.message}"
        for m in lint(json.dumps(template), config=config)
    ]


def test_default_template_is_cfn_lint_clean(synthesized: Synthesized) -> None:
    assert findings(synthesized.json) == []


def test_template_with_bedrock_pointers_is_cfn_lint_clean(with_bedrock: dict[str, Any]) -> None:
    assert findings(with_bedrock) == []


def test_accepted_findings_are_only_on_the_functions_and_say_why(synthesized: Synthesized) -> None:
    ignoring = {
        logical_id: resource["Type"]
        for logical_id, resource in synthesized.json["Resources"].items()
        if "cfn-lint" in resource.get("Metadata", {})
    }
    assert set(ignoring.values()) == {"AWS::Lambda::Function"}
    # Every function of the project (webhook, worker, alert events, two change recorders, Slack
    # actions), nothing else.
    assert set(ignoring) == set(synthesized.resources("AWS::Lambda::Function"))
    for logical_id in ignoring:
        config = synthesized.json["Resources"][logical_id]["Metadata"]["cfn-lint"]["config"]
        assert config == {"ignore_checks": sorted(CFN_LINT_IGNORED)}
    assert all(len(reason) > 20 for reason in CFN_LINT_IGNORED.values())
