"""Rollouts on Bedrock: only the SSM prompt pointer splits; its value round-trips in both forms."""

from __future__ import annotations

import json

import pytest
from prompt_rollback.domain.bedrock_rollout import (
    UnsplittableTarget,
    parse_pointer_value,
    rollout_target,
)
from prompt_rollback.domain.bedrock_targets import PromptParameterTarget

ARN = "arn:aws:bedrock:eu-west-1:123456789012:prompt/PROMPT1234"


def test_a_plan_on_the_ssm_pointer_is_accepted():
    target = rollout_target({"prompt_parameter": "/prompts/support-answer/production"})
    assert target == PromptParameterTarget("/prompts/support-answer/production")


@pytest.mark.parametrize(
    ("labels", "says"),
    [
        (
            {"bedrock_agent_id": "AGENT12345", "bedrock_alias_id": "ALIAS12345"},
            "an agent alias routes to one version",
        ),
        (
            {"bedrock_flow_id": "FLOW123456", "bedrock_alias_id": "ALIAS12345"},
            "a flow alias routes to exactly one",
        ),
    ],
)
def test_a_plan_on_an_agent_or_flow_alias_is_refused_pointing_at_the_ssm_pointer(labels, says):
    with pytest.raises(UnsplittableTarget) as refused:
        rollout_target(labels)
    message = str(refused.value)
    assert "cannot split traffic" in message
    assert says in message
    assert "SSM prompt pointer (prompt_parameter, see docs/rollout.md)" in message


def test_a_plan_without_a_usable_target_is_refused_with_the_reason():
    with pytest.raises(UnsplittableTarget, match="missing label bedrock_alias_id"):
        rollout_target({"bedrock_agent_id": "AGENT12345"})


def test_the_pointer_value_round_trips_in_both_forms():
    plain = parse_pointer_value(f"{ARN}:6\n")
    assert (plain.stable_version, plain.candidate_version, plain.share) == (6, None, 0)
    assert plain.to_text() == f"{ARN}:6"  # no rollout: the plain ARN older readers understand
    rolling = parse_pointer_value(json.dumps({"stable": f"{ARN}:6", "candidate": f"{ARN}:7", "share": 25}))
    assert (rolling.stable_version, rolling.candidate_version, rolling.share) == (6, 7, 25)
    assert parse_pointer_value(rolling.to_text()) == rolling
    assert rolling.prompt.prompt_id == "PROMPT1234"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (ARN, "the value must be a Bedrock prompt-version ARN"),
        ("[1]", "the value must be a Bedrock prompt-version ARN"),
        ("{broken", "neither a prompt-version ARN nor JSON"),
        ("{}", "stable must be a Bedrock prompt-version ARN"),
        ('{"stable": 6}', "stable must be a Bedrock prompt-version ARN"),
        (json.dumps({"stable": f"{ARN}:6", "candidate": f"{ARN}", "share": 5}), "candidate must be"),
        (json.dumps({"stable": f"{ARN}:6", "candidate": f"{ARN}:7", "share": True}), "share must be"),
        (json.dumps({"stable": f"{ARN}:6", "candidate": f"{ARN}:7", "share": -1}), "share must be"),
        (json.dumps({"stable": f"{ARN}:6", "candidate": f"{ARN}:7", "share": 5.5}), "share must be"),
    ],
)
def test_a_value_outside_the_contract_is_refused_with_the_reason(value, reason):
    with pytest.raises(ValueError, match=reason):
        parse_pointer_value(value)
