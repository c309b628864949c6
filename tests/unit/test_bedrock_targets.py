"""Which Bedrock pointer an alert's labels name, and the reasons when they name none: plain data, no mocks."""

from __future__ import annotations

import pytest
from prompt_rollback.domain.bedrock_targets import (
    MISSING_TARGET,
    AgentAliasTarget,
    FlowAliasTarget,
    PromptParameterTarget,
    bedrock_target,
    parse_prompt_arn,
    target_labels_problem,
    version_number,
)

AGENT = "AGENT12345"
FLOW = "FLOW123456"
ALIAS = "ALIAS12345"


@pytest.mark.parametrize(
    ("labels", "target"),
    [
        ({"bedrock_agent_id": AGENT, "bedrock_alias_id": ALIAS}, AgentAliasTarget(AGENT, ALIAS)),
        ({"bedrock_flow_id": FLOW, "bedrock_alias_id": ALIAS}, FlowAliasTarget(FLOW, ALIAS)),
        (
            {"prompt_parameter": "/prompts/support-answer/production"},
            PromptParameterTarget("/prompts/support-answer/production"),
        ),
        ({"prompt_parameter": "support.answer_prod"}, PromptParameterTarget("support.answer_prod")),
        # Other labels that merely start with bedrock_ (a metric's model id) do not matter.
        (
            {"bedrock_agent_id": AGENT, "bedrock_alias_id": ALIAS, "bedrock_model_id": "anthropic.claude"},
            AgentAliasTarget(AGENT, ALIAS),
        ),
        # Alertmanager drops empty labels; a blank one is treated as absent.
        (
            {"bedrock_agent_id": AGENT, "bedrock_alias_id": ALIAS, "bedrock_flow_id": " "},
            AgentAliasTarget(AGENT, ALIAS),
        ),
    ],
)
def test_labels_name_one_pointer(labels, target):
    assert bedrock_target(labels) == target


@pytest.mark.parametrize(
    ("labels", "reason"),
    [
        ({}, MISSING_TARGET),
        ({"bedrock_model_id": "anthropic.claude"}, MISSING_TARGET),
        (
            {"bedrock_agent_id": AGENT},
            "missing label bedrock_alias_id (which alias of the agent to roll back)",
        ),
        (
            {"bedrock_flow_id": FLOW},
            "missing label bedrock_alias_id (which alias of the flow to roll back)",
        ),
        (
            {"bedrock_alias_id": ALIAS},
            "missing label bedrock_agent_id or bedrock_flow_id (whose alias bedrock_alias_id is)",
        ),
        (
            {"bedrock_agent_id": AGENT, "bedrock_flow_id": FLOW, "bedrock_alias_id": ALIAS},
            "contradictory target labels: bedrock_agent_id and bedrock_flow_id "
            "name different pointers; keep one",
        ),
        (
            {"prompt_parameter": "/prompts/a", "bedrock_agent_id": AGENT, "bedrock_alias_id": ALIAS},
            "contradictory target labels: prompt_parameter and bedrock_agent_id, bedrock_alias_id "
            "name different pointers; keep one",
        ),
        (
            {"prompt_parameter": "/prompts/a", "bedrock_flow_id": FLOW},
            "contradictory target labels: prompt_parameter and bedrock_flow_id "
            "name different pointers; keep one",
        ),
        (
            {"bedrock_agent_id": "agent-1", "bedrock_alias_id": ALIAS},
            "invalid label: bedrock_agent_id must be 10 letters or digits",
        ),
        (
            {"bedrock_flow_id": "../../etc", "bedrock_alias_id": ALIAS},
            "invalid label: bedrock_flow_id must be 10 letters or digits",
        ),
        (
            {"bedrock_agent_id": AGENT, "bedrock_alias_id": "prod"},
            "invalid label: bedrock_alias_id must be 10 letters or digits",
        ),
        (
            {"bedrock_agent_id": AGENT, "bedrock_alias_id": "TSTALIASID"},
            "invalid label: bedrock_alias_id TSTALIASID is the test alias, which always routes to DRAFT",
        ),
        (
            {"prompt_parameter": "/prompts/a b"},
            "invalid label: prompt_parameter must be an SSM parameter name "
            "(letters, digits and _ . - /, e.g. /prompts/support/production)",
        ),
        (
            {"prompt_parameter": "/prompts//a"},
            "invalid label: prompt_parameter must be an SSM parameter name "
            "(letters, digits and _ . - /, e.g. /prompts/support/production)",
        ),
        (
            {"prompt_parameter": "/aws/service/ami"},
            "invalid label: prompt_parameter must not start with aws or ssm (reserved by AWS)",
        ),
    ],
)
def test_missing_contradictory_or_invalid_labels_say_why(labels, reason):
    assert bedrock_target(labels) == reason


def test_every_provider_checks_its_target_labels():
    assert target_labels_problem("bedrock", {"prompt_parameter": "/prompts/a"}) is None
    assert target_labels_problem("bedrock", {}) == MISSING_TARGET
    assert target_labels_problem("langfuse", {"bedrock_model_id": "anthropic.claude"}) is None
    # Bedrock target labels on a Langfuse alert: most likely a forgotten provider label.
    assert target_labels_problem("langfuse", {"bedrock_agent_id": AGENT, "bedrock_alias_id": ALIAS}) == (
        "Bedrock target labels (bedrock_agent_id, bedrock_alias_id) on a langfuse alert: "
        'set provider="bedrock" or drop them'
    )


@pytest.mark.parametrize(
    ("text", "number"),
    [("1", 1), ("42", 42), ("DRAFT", None), ("", None), (None, None), ("0", None), ("-1", None), ("٣", None)],
)
def test_only_numbered_versions_count(text, number):
    assert version_number(text) == number


def test_prompt_arns_are_split_into_prompt_and_version():
    arn = parse_prompt_arn("arn:aws:bedrock:eu-west-1:123456789012:prompt/PROMPT1234:6")
    assert arn is not None
    assert (arn.region, arn.prompt_id, arn.version) == ("eu-west-1", "PROMPT1234", 6)
    assert arn.at_version(5) == "arn:aws:bedrock:eu-west-1:123456789012:prompt/PROMPT1234:5"
    draft = parse_prompt_arn("arn:aws:bedrock:eu-west-1:123456789012:prompt/PROMPT1234")
    assert draft is not None and draft.version is None
    for text in (
        "arn:aws:bedrock:eu-west-1:123456789012:prompt/PROMPT1234:0",
        "arn:aws:bedrock:eu-west-1:123456789012:agent/AGENT12345",
        "anthropic.claude-3-haiku",
        "",
    ):
        assert parse_prompt_arn(text) is None
