"""The worker's Bedrock and SSM permissions: the adapters' calls, on exactly the configured pointers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra.application import build_app
from infra.config import DeploymentConfig, InvalidDeploymentConfig
from tests.infra.conftest import SKIP_BUNDLING, Synthesized
from tests.infra.test_config_and_nag import cdk_json_config
from tests.infra.test_stack import as_list, role_of, statements_of_role

BEDROCK_CONTEXT: dict[str, Any] = {
    "bedrock_agent_aliases": ["AGENT12345/ALIAS12345", "AGENT12345/ALIAS67890"],
    # As `-c bedrock_flow_aliases=...` passes it: comma-separated text.
    "bedrock_flow_aliases": "FLOW123456/FALIAS1234",
    "prompt_parameters": ["/prompts/support-answer/production", "legacy-answer-prod"],
    "bedrock_prompt_ids": ["PROMPT1234"],
}


def arn(service: str, resource: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                f":{service}:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":{resource}",
            ],
        ]
    }


def bedrock_and_ssm_statements(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        statement["Sid"]: statement
        for statement in statements
        if any(action.startswith(("bedrock:", "ssm:")) for action in as_list(statement["Action"]))
    }


@pytest.fixture(scope="module")
def with_bedrock() -> Synthesized:
    app, stack = build_app(context={**SKIP_BUNDLING, **BEDROCK_CONTEXT}, nag=False)
    template = Template.from_stack(stack)
    return Synthesized(app=app, stack=stack, template=template, json=dict(template.to_json()))


def test_nothing_configured_grants_nothing(synthesized: Synthesized) -> None:
    for role_id in synthesized.resources("AWS::IAM::Role"):
        assert bedrock_and_ssm_statements(statements_of_role(synthesized, role_id)) == {}


def test_the_worker_may_move_exactly_the_configured_pointers(with_bedrock: Synthesized) -> None:
    worker_role = role_of(with_bedrock, with_bedrock.stack.worker.function.function)
    granted = bedrock_and_ssm_statements(statements_of_role(with_bedrock, worker_role))
    expected = {
        "RollBackBedrockAgentAliases": (
            ["bedrock:GetAgentAlias", "bedrock:UpdateAgentAlias"],
            [
                arn("bedrock", "agent-alias/AGENT12345/ALIAS12345"),
                arn("bedrock", "agent-alias/AGENT12345/ALIAS67890"),
            ],
        ),
        "ListBedrockAgentVersions": (["bedrock:ListAgentVersions"], [arn("bedrock", "agent/AGENT12345")]),
        "RollBackBedrockFlowAliases": (
            ["bedrock:GetFlowAlias", "bedrock:UpdateFlowAlias"],
            [arn("bedrock", "flow/FLOW123456/alias/FALIAS1234")],
        ),
        "ListBedrockFlowVersions": (["bedrock:ListFlowVersions"], [arn("bedrock", "flow/FLOW123456")]),
        "RewriteBedrockPromptPointers": (
            ["ssm:GetParameter", "ssm:GetParameterHistory", "ssm:LabelParameterVersion", "ssm:PutParameter"],
            [
                arn("ssm", "parameter/prompts/support-answer/production"),
                arn("ssm", "parameter/legacy-answer-prod"),
            ],
        ),
        "ListBedrockPromptVersions": (["bedrock:ListPrompts"], [arn("bedrock", "prompt/PROMPT1234")]),
    }
    assert set(granted) == set(expected)
    for sid, (actions, resources) in expected.items():
        statement = granted[sid]
        assert statement["Effect"] == "Allow"
        assert sorted(as_list(statement["Action"])) == sorted(actions), sid
        # CDK orders a statement's resources itself.
        assert sorted(map(json.dumps, as_list(statement["Resource"]))) == sorted(
            map(json.dumps, resources)
        ), sid
        assert "Condition" not in statement
    # Only the worker: the webhook never touches a registry.
    webhook_role = role_of(with_bedrock, with_bedrock.stack.ingest.function.function)
    assert bedrock_and_ssm_statements(statements_of_role(with_bedrock, webhook_role)) == {}


def test_cdk_nag_passes_with_bedrock_pointers(with_bedrock: Synthesized) -> None:
    report = AwsSolutionsChecks(with_bedrock.app).validate_scope(with_bedrock.app)
    assert report.success, [v.rule_name for v in report.violations]


@pytest.mark.parametrize(
    ("override", "expected_in_message"),
    [
        ({"bedrock_agent_aliases": ["AGENT12345"]}, "bedrock_agent_aliases.0"),
        ({"bedrock_agent_aliases": ["AGENT12345/TSTALIASID"]}, "TSTALIASID is the test alias"),
        ({"bedrock_flow_aliases": ["flow-1/alias-1"]}, "bedrock_flow_aliases.0"),
        (
            {"prompt_parameters": ["/prompts/x"], "bedrock_prompt_ids": []},
            "prompt_parameters needs bedrock_prompt_ids",
        ),
        (
            {"prompt_parameters": ["/prompts/a b"], "bedrock_prompt_ids": ["PROMPT1234"]},
            "prompt_parameters.0",
        ),
        (
            {"prompt_parameters": ["/aws/service/x"], "bedrock_prompt_ids": ["PROMPT1234"]},
            "is not a parameter name the worker accepts",
        ),
        ({"bedrock_prompt_ids": ["arn:aws:bedrock:us-east-1:123456789012:prompt/P"]}, "bedrock_prompt_ids.0"),
    ],
)
def test_bad_bedrock_configuration_fails_synth_with_a_clear_error(
    override: dict[str, Any], expected_in_message: str
) -> None:
    with pytest.raises(InvalidDeploymentConfig) as raised:
        build_app(context={**SKIP_BUNDLING, **override}, nag=False)
    assert expected_in_message in str(raised.value)


def test_parameter_names_infra_accepts_are_ones_the_worker_accepts() -> None:
    """Cross-check with the worker's own label check, so infra and Lambda cannot drift apart."""
    targets = pytest.importorskip("prompt_rollback.domain.bedrock_targets")
    config = DeploymentConfig.model_validate(
        {
            **cdk_json_config(),
            "prompt_parameters": "/prompts/support-answer/production, support.answer_v2",
            "bedrock_prompt_ids": "PROMPT1234",
        }
    )
    assert config.prompt_parameters == ["/prompts/support-answer/production", "support.answer_v2"]
    for name in config.prompt_parameters:
        assert targets.parameter_name_problem(name) is None
