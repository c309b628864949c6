"""The SSM prompt pointer: moto for Parameter Store, Stubber for Bedrock's ListPrompts; and the
application's side, `resolve_production_prompt_arn`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from prompt_rollback.adapters.bedrock_agent_registry import BedrockAgentAliasRegistry
from prompt_rollback.adapters.bedrock_flow_registry import BedrockFlowAliasRegistry
from prompt_rollback.adapters.bedrock_prompt_pointer_registry import (
    ROLLBACK_LABEL,
    BedrockPromptPointerRegistry,
)
from prompt_rollback.adapters.bedrock_registry import BedrockRegistry
from prompt_rollback.client import prompt_pointer
from prompt_rollback.domain.bedrock_targets import PromptParameterTarget
from prompt_rollback.domain.rollout_split import unit_arm
from prompt_rollback.errors import NotFound, RegistryRejected, RegistryUnavailable
from prompt_rollback.ports import PromptRef

from tests.integration.bedrock_stubs import (
    PROMPT_ID,
    REGION,
    bedrock_agent_client,
    prompt_arn,
    prompt_versions,
)

PARAMETER = "/prompts/support-answer/production"
REF = PromptRef("support-answer", {"prompt_parameter": PARAMETER})


@dataclass
class Pointer:
    ssm: Any
    stub: Stubber
    registry: BedrockRegistry

    def history(self, *values: str) -> None:
        for value in values:
            self.ssm.put_parameter(Name=PARAMETER, Value=value, Type="String", Overwrite=True)

    def prompt_versions(self, *versions: str) -> None:
        self.stub.add_response(
            "list_prompts",
            prompt_versions(*versions),
            {"promptIdentifier": PROMPT_ID, "maxResults": 100},
        )

    def labels(self) -> dict[int, list[str]]:
        history = self.ssm.get_parameter_history(Name=PARAMETER, MaxResults=50)["Parameters"]
        return {entry["Version"]: entry.get("Labels", []) for entry in history if entry.get("Labels")}


@pytest.fixture
def pointer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pointer]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        ssm = boto3.client("ssm", region_name=REGION)
        bedrock_agent = bedrock_agent_client()
        registry = BedrockRegistry(
            agent_aliases=BedrockAgentAliasRegistry(bedrock_agent),
            flow_aliases=BedrockFlowAliasRegistry(bedrock_agent),
            prompt_pointers=BedrockPromptPointerRegistry(ssm, bedrock_agent),
        )
        with Stubber(bedrock_agent) as stub:
            yield Pointer(ssm, stub, registry)
            stub.assert_no_pending_responses()


def test_production_history_and_versions(pointer: Pointer):
    pointer.history(
        prompt_arn(5),
        prompt_arn(6),
        prompt_arn(2, prompt_id="OTHERPRMPT"),  # repointed to another prompt for a while
        prompt_arn(5),
        prompt_arn(7),
    )
    pointer.prompt_versions("DRAFT", "1", "2", "3", "4", "5", "6", "7")
    state = pointer.registry.read_state(REF)
    assert state.production_version == 7
    assert state.versions == frozenset(range(1, 8))  # DRAFT is never a target
    # Newest first, each once, only this prompt's versions, the current value left out.
    assert state.previous_production == (5, 6)


def test_rollback_writes_the_target_arn_labels_it_and_returns_the_put_request_id(pointer: Pointer):
    pointer.history(prompt_arn(6), prompt_arn(7))
    put_request_ids: list[str] = []
    pointer.ssm.meta.events.register(
        "after-call.ssm.PutParameter",
        lambda http_response, parsed, **_: put_request_ids.append(parsed["ResponseMetadata"]["RequestId"]),
    )
    request_id = pointer.registry.move_production(REF, 6)
    assert request_id == put_request_ids[-1] != ""  # what CloudTrail records as PutParameter's requestID
    parameter = pointer.ssm.get_parameter(Name=PARAMETER)["Parameter"]
    assert (parameter["Value"], parameter["Version"], parameter["Type"]) == (prompt_arn(6), 3, "String")
    assert pointer.labels() == {3: [ROLLBACK_LABEL]}
    # The next rollback moves the label: one labelled version, so SSM's 100-version limit never blocks.
    pointer.history(prompt_arn(8))
    pointer.registry.move_production(REF, 6)
    assert pointer.labels() == {5: [ROLLBACK_LABEL]}


def test_a_label_that_cannot_be_set_does_not_undo_or_fail_the_rollback(pointer: Pointer, monkeypatch):
    pointer.history(prompt_arn(7))

    def refuse(**_: Any) -> Any:
        raise pointer.ssm.exceptions.TooManyUpdates(
            {"Error": {"Code": "TooManyUpdates"}}, "LabelParameterVersion"
        )

    monkeypatch.setattr(pointer.ssm, "label_parameter_version", refuse)
    assert pointer.registry.move_production(REF, 6)
    assert pointer.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == prompt_arn(6)


def test_a_draft_pointer_has_no_production_version(pointer: Pointer):
    pointer.history(prompt_arn(None))
    pointer.prompt_versions("DRAFT", "1")
    assert pointer.registry.read_state(REF).production_version is None


@pytest.mark.parametrize(
    ("put", "error", "message"),
    [
        (None, NotFound, f"GetParameter {PARAMETER}: ParameterNotFound"),
        (
            {"Value": prompt_arn(7), "Type": "SecureString"},
            RegistryRejected,
            f"SSM parameter {PARAMETER} is a SecureString; the prompt pointer must be a String",
        ),
        (
            {"Value": "anthropic.claude-3-haiku", "Type": "String"},
            RegistryRejected,
            f"SSM parameter {PARAMETER} does not hold a Bedrock prompt ARN",
        ),
        (
            {"Value": "arn:aws:bedrock:eu-west-1:123456789012:prompt/PROMPT1234:7", "Type": "String"},
            RegistryRejected,
            f"SSM parameter {PARAMETER} points at a prompt in eu-west-1; the worker runs in us-east-1",
        ),
    ],
)
def test_a_pointer_we_cannot_use_is_refused_with_the_reason(pointer: Pointer, put, error, message):
    if put is not None:
        pointer.ssm.put_parameter(Name=PARAMETER, **put)
    with pytest.raises(error) as raised:
        pointer.registry.read_state(REF)
    assert str(raised.value) == message
    assert not raised.value.retryable


def test_ssm_throttling_is_retryable():
    ssm = boto3.client(
        "ssm", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    bedrock_agent = bedrock_agent_client()
    registry = BedrockPromptPointerRegistry(ssm, bedrock_agent)
    with Stubber(ssm) as stub:
        stub.add_client_error("get_parameter", service_error_code="ThrottlingException", http_status_code=400)
        with pytest.raises(RegistryUnavailable, match="ThrottlingException"):
            registry.read_state(PromptParameterTarget(PARAMETER))


# --- the application side ---------------------------------------------------------------------


@pytest.fixture
def app_ssm(pointer: Pointer) -> Iterator[Any]:
    prompt_pointer.clear_cache()
    yield pointer.ssm
    prompt_pointer.clear_cache()


def test_the_application_reads_the_production_arn_cached(app_ssm, pointer: Pointer):
    pointer.history(prompt_arn(7))
    assert prompt_pointer.resolve_production_prompt_arn(PARAMETER, ssm_client=app_ssm) == prompt_arn(7)
    pointer.history(prompt_arn(6))  # a rollback
    # Within the cache time a warm instance keeps serving what it read; a new one reads the rollback.
    assert prompt_pointer.resolve_production_prompt_arn(PARAMETER, ssm_client=app_ssm) == prompt_arn(7)
    prompt_pointer.clear_cache()
    assert prompt_pointer.resolve_production_prompt_arn(PARAMETER, ssm_client=app_ssm) == prompt_arn(6)


def test_without_a_cache_every_call_reads_the_parameter(app_ssm, pointer: Pointer):
    pointer.history(prompt_arn(7))
    assert prompt_pointer.resolve_production_prompt_arn(PARAMETER, app_ssm, cache_seconds=0) == prompt_arn(7)
    pointer.history(prompt_arn(6))
    assert prompt_pointer.resolve_production_prompt_arn(PARAMETER, app_ssm, cache_seconds=0) == prompt_arn(6)


@pytest.mark.parametrize("value", [prompt_arn(None), "anthropic.claude-3-haiku"])
def test_the_application_is_told_when_the_pointer_is_not_a_prompt_version(app_ssm, pointer: Pointer, value):
    pointer.history(value)
    with pytest.raises(prompt_pointer.PromptPointerError, match="does not hold a Bedrock prompt-version ARN"):
        prompt_pointer.resolve_production_prompt_arn(PARAMETER, ssm_client=app_ssm)


# --- the application side during a rollout (docs/rollout.md, "The SSM prompt pointer") --------


def rollout_value(stable: int, candidate: int, share: int) -> str:
    return json.dumps({"stable": prompt_arn(stable), "candidate": prompt_arn(candidate), "share": share})


def test_an_application_that_ignores_rollouts_keeps_serving_stable(app_ssm, pointer: Pointer):
    pointer.history(rollout_value(6, 7, 25))
    assert prompt_pointer.resolve_production_prompt_arn(PARAMETER, ssm_client=app_ssm) == prompt_arn(6)


def test_units_are_split_by_the_contract_with_the_prompt_id_as_the_prompt(app_ssm, pointer: Pointer):
    pointer.history(rollout_value(6, 7, 25))
    for unit in (f"user-{i}" for i in range(200)):
        pointed = prompt_pointer.rollout_prompt_arn(PARAMETER, unit=unit, ssm_client=app_ssm)
        arm = unit_arm(PROMPT_ID, 7, unit, 25)
        assert (pointed.arm, pointed.share, pointed.sticky) == (arm, 25, True)
        assert pointed.arn == prompt_arn(7 if arm == "candidate" else 6)
        assert pointed.version == (7 if arm == "candidate" else 6)


def test_the_plain_pointer_is_stable_for_everyone(app_ssm, pointer: Pointer):
    pointer.history(prompt_arn(6))
    pointed = prompt_pointer.rollout_prompt_arn(PARAMETER, unit="user-1", ssm_client=app_ssm)
    assert (pointed.arn, pointed.arm, pointed.share, pointed.candidate_version) == (
        prompt_arn(6),
        "stable",
        0,
        None,
    )


def test_without_a_unit_the_pointer_is_drawn_per_request(app_ssm, pointer: Pointer):
    pointer.history(rollout_value(6, 7, 50))
    pointed = [prompt_pointer.rollout_prompt_arn(PARAMETER, ssm_client=app_ssm) for _ in range(200)]
    assert not any(p.sticky for p in pointed)
    assert 50 < sum(p.arm == "candidate" for p in pointed) < 150


@pytest.mark.parametrize(
    "value",
    [
        '{"stable": "arn:aws:bedrock:us-east-1:123456789012:prompt/PROMPT1234"}',
        json.dumps({"stable": prompt_arn(6), "candidate": prompt_arn(7), "share": 100}),
        json.dumps({"stable": prompt_arn(6), "candidate": prompt_arn(7)}),
        json.dumps(
            {
                "stable": prompt_arn(6),
                "candidate": "arn:aws:bedrock:us-east-1:123456789012:prompt/OTHERPRMPT:7",
                "share": 5,
            }
        ),
        "{not json",
    ],
)
def test_a_rollout_pointer_that_does_not_hold_the_contract_is_refused(app_ssm, pointer: Pointer, value):
    pointer.history(value)
    with pytest.raises(prompt_pointer.PromptPointerError, match=PARAMETER):
        prompt_pointer.rollout_prompt_arn(PARAMETER, unit="user-1", ssm_client=app_ssm)


def test_during_a_rollout_production_is_the_stable_version_and_a_rollback_still_works(pointer: Pointer):
    pointer.history(prompt_arn(6), prompt_arn(7), rollout_value(7, 8, 25))
    pointer.prompt_versions("1", "6", "7", "8")
    state = pointer.registry.read_state(REF)
    assert state.production_version == 7
    pointer.registry.move_production(REF, 6)  # an alert's rollback ends the split: a plain ARN again
    assert pointer.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == prompt_arn(6)


def test_rollout_steps_write_the_split_and_an_abort_writes_stable_back(pointer: Pointer):
    pointer.history(prompt_arn(7))
    pointer.registry.split(REF, 7, 8, 5, "canary")
    assert json.loads(pointer.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"]) == {
        "stable": prompt_arn(7), "candidate": prompt_arn(8), "share": 5,
    }  # fmt: skip
    pointer.prompt_versions("7", "8")
    seen = pointer.registry.read_rollout(REF, "canary")
    assert (seen.production, seen.candidate, seen.share) == (7, 8, 5)
    pointer.registry.unsplit(REF, 7, "canary")
    assert pointer.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == prompt_arn(7)


def test_a_rollout_through_an_agent_alias_is_refused_pointing_at_the_ssm_pointer(pointer: Pointer):
    alias = PromptRef("support-answer", {"bedrock_agent_id": "AGENT12345", "bedrock_alias_id": "ALIAS12345"})
    with pytest.raises(RegistryRejected, match="SSM prompt pointer"):
        pointer.registry.split(alias, 7, 8, 5, "canary")
