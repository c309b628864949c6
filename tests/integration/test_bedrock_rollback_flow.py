"""Bedrock alerts through the whole path: webhook → queue → worker → Bedrock/SSM → Slack → audit.

Parameter Store is moto (inside the `stack` fixture); Bedrock's control plane is a real
bedrock-agent client under Stubber, served to the worker as the "bedrock" registry.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from prompt_rollback import cli, wiring
from prompt_rollback.adapters.bedrock_agent_registry import BedrockAgentAliasRegistry
from prompt_rollback.adapters.bedrock_flow_registry import BedrockFlowAliasRegistry
from prompt_rollback.adapters.bedrock_prompt_pointer_registry import (
    ROLLBACK_LABEL,
    BedrockPromptPointerRegistry,
)
from prompt_rollback.adapters.bedrock_registry import BedrockRegistry
from prompt_rollback.domain.audit import verify_chain

from tests.integration.bedrock_stubs import (
    AGENT_ID,
    ALIAS_ID,
    FLOW_ID,
    PROMPT_ID,
    FakeTime,
    agent_alias,
    agent_versions,
    bedrock_agent_client,
    flow_alias,
    flow_versions,
    prompt_arn,
    prompt_versions,
    request_id,
)
from tests.integration.conftest import Stack

PARAMETER = "/prompts/support-answer/production"
AGENT_TARGET = {"bedrock_agent_id": AGENT_ID, "bedrock_alias_id": ALIAS_ID}
ALIAS_PARAMS = {"agentId": AGENT_ID, "agentAliasId": ALIAS_ID}


class Bedrock:
    """The Bedrock registry the worker gets, with the stub and the SSM client it talks to."""

    def __init__(self, stack: Stack) -> None:
        self.ssm = boto3.client("ssm")  # moto, from the stack fixture
        self.client = bedrock_agent_client()
        self.stub = Stubber(self.client)
        self.time = FakeTime()
        stack.use_registry(
            BedrockRegistry(
                agent_aliases=BedrockAgentAliasRegistry(
                    self.client, sleep=self.time.sleep, clock=self.time.clock
                ),
                flow_aliases=BedrockFlowAliasRegistry(self.client),
                prompt_pointers=BedrockPromptPointerRegistry(self.ssm, self.client),
            )
        )
        self.put_request_ids: list[str] = []
        self.ssm.meta.events.register(
            "after-call.ssm.PutParameter",
            lambda parsed, **_: self.put_request_ids.append(parsed["ResponseMetadata"]["RequestId"]),
        )


@pytest.fixture
def bedrock(stack: Stack):
    bedrock = Bedrock(stack)
    with bedrock.stub:
        yield bedrock
        bedrock.stub.assert_no_pending_responses()


def bedrock_alert(body: dict[str, Any], **labels: str) -> dict[str, Any]:
    body = copy.deepcopy(body)
    alert = body["alerts"][0]
    alert["labels"].update(provider="bedrock", **labels)
    alert["annotations"].pop("rollback_to", None)  # let the registry's own history decide
    alert["labels"].pop("rollback_to", None)
    return body


def test_alert_moves_the_ssm_pointer_posts_to_slack_and_audits_the_request_id(
    stack: Stack, bedrock: Bedrock, firing_body
):
    for version in (5, 6, 7):
        bedrock.ssm.put_parameter(Name=PARAMETER, Value=prompt_arn(version), Type="String", Overwrite=True)
    # Read before the decision; the read-back after the move reads only the parameter (moto).
    bedrock.stub.add_response(
        "list_prompts",
        prompt_versions("DRAFT", "5", "6", "7"),
        {"promptIdentifier": PROMPT_ID, "maxResults": 100},
    )

    status, answer = stack.post(bedrock_alert(firing_body, prompt_parameter=PARAMETER))
    assert status == 202 and answer["skipped"] == []
    stack.drain()

    assert bedrock.ssm.get_parameter(Name=PARAMETER)["Parameter"]["Value"] == prompt_arn(6)
    [decision] = stack.decisions(provider="bedrock")
    assert decision["outcome"] == "rolled_back"
    assert (decision["from_version"], decision["to_version"]) == (7, 6)
    assert decision["basis"] == "held production before (registry history)"
    assert decision["provider_target"] == {"prompt_parameter": PARAMETER}
    # The auditor's join key: CloudTrail's requestID of the PutParameter event.
    assert decision["registry_request_id"] == bedrock.put_request_ids[-1] != ""
    [message] = stack.slack.messages
    text = json.dumps(message, ensure_ascii=False)
    assert "v7 → v6" in text and "bedrock" in text and decision["request_id"] in text
    history = bedrock.ssm.get_parameter_history(Name=PARAMETER)["Parameters"]
    assert history[-1]["Labels"] == [ROLLBACK_LABEL]
    assert verify_chain(stack.audit(provider="bedrock")) == []


def test_an_alert_without_target_labels_is_skipped_at_the_webhook(
    stack: Stack, bedrock: Bedrock, firing_body
):
    status, answer = stack.post(bedrock_alert(firing_body, bedrock_agent_id=AGENT_ID))
    assert status == 202
    assert answer["accepted"] == []
    assert [s["reason"] for s in answer["skipped"]] == [
        "missing label bedrock_alias_id (which alias of the agent to roll back)"
    ]


def test_forced_rollback_of_an_agent_alias_goes_to_the_version_it_routed_to_before(
    stack: Stack, bedrock: Bedrock
):
    earlier = [("5", datetime(2026, 4, 1, tzinfo=UTC)), ("6", datetime(2026, 4, 10, tzinfo=UTC))]
    stub = bedrock.stub
    stub.add_response("get_agent_alias", agent_alias("7", history=earlier), ALIAS_PARAMS)
    stub.add_response("list_agent_versions", agent_versions("DRAFT", "5", "6", "7"))
    stub.add_response("get_agent_alias", agent_alias("7", history=earlier), ALIAS_PARAMS)
    stub.add_response(
        "update_agent_alias",
        {**agent_alias("6", "UPDATING"), "ResponseMetadata": request_id("req-agent-update")},
        {**ALIAS_PARAMS, "agentAliasName": "production", "routingConfiguration": [{"agentVersion": "6"}]},
    )
    stub.add_response("get_agent_alias", agent_alias("6", "UPDATING"), ALIAS_PARAMS)
    stub.add_response("get_agent_alias", agent_alias("6"), ALIAS_PARAMS)
    stub.add_response("get_agent_alias", agent_alias("6"), ALIAS_PARAMS)  # read back (production only)

    result = stack.invoke_worker(
        {
            "prompt": "support-agent",
            "provider": "bedrock",
            "target": AGENT_TARGET,
            "reason": "agent loops on refunds",
            "actor": "jane@example.com",
        }
    )
    assert (result["outcome"], result["from_version"], result["to_version"]) == ("rolled_back", 7, 6)
    [decision] = stack.decisions("support-agent", provider="bedrock")
    assert decision["registry_request_id"] == "req-agent-update"
    assert decision["basis"] == "held production before (registry history)"
    assert decision["actor"] == "jane@example.com" and decision["mode"] == "manual"


def test_a_forced_bedrock_rollback_must_name_its_target(stack: Stack, bedrock: Bedrock):
    result = stack.invoke_worker(
        {"prompt": "support-agent", "provider": "bedrock", "reason": "bad", "actor": "jane"}
    )
    assert result["error"] == "invalid manual rollback request"
    assert "missing target labels" in json.dumps(result["details"])


def test_an_agent_alias_that_never_gets_prepared_is_audited_failed_on_the_last_attempt(
    stack: Stack, bedrock: Bedrock, firing_body
):
    stub = bedrock.stub
    # Attempt 1: decide, write the intent, update, poll for the whole budget.
    stub.add_response("get_agent_alias", agent_alias("7"), ALIAS_PARAMS)
    stub.add_response("list_agent_versions", agent_versions("6", "7"))
    stub.add_response("get_agent_alias", agent_alias("7"), ALIAS_PARAMS)
    stub.add_response(
        "update_agent_alias", {**agent_alias("6", "UPDATING"), "ResponseMetadata": request_id("req-stuck")}
    )
    for _ in range(8):
        stub.add_response("get_agent_alias", agent_alias("6", "UPDATING"), ALIAS_PARAMS)
    # Attempts 2 and 3 (MAX_RECEIVE_COUNT=3) resume their intent and find it still UPDATING.
    for _ in range(2):
        stub.add_response("get_agent_alias", agent_alias("6", "UPDATING"), ALIAS_PARAMS)

    stack.post(bedrock_alert(firing_body, **AGENT_TARGET))
    stack.drain()

    [decision] = stack.decisions(provider="bedrock")
    assert decision["outcome"] == "failed"
    assert decision["reason"] == (
        f"rollback failed: agent {AGENT_ID} alias {ALIAS_ID} is UPDATING, not PREPARED yet"
    )
    [message] = stack.slack.messages
    assert "FAILED" in json.dumps(message)
    assert (decision["from_version"], decision["to_version"]) == (7, 6)  # from the intent record
    assert stack.queue_depth(stack.resources.dlq_url) == 1


def test_forced_rollback_of_a_flow_alias_from_the_cli(stack: Stack, bedrock: Bedrock, capsys):
    flow_params = {"flowIdentifier": FLOW_ID, "aliasIdentifier": ALIAS_ID}
    stub = bedrock.stub
    stub.add_response("get_flow_alias", flow_alias("3"), flow_params)
    stub.add_response("list_flow_versions", flow_versions("1", "2", "3"))
    stub.add_response("get_flow_alias", flow_alias("3"), flow_params)
    stub.add_response(
        "update_flow_alias",
        {**flow_alias("1"), "ResponseMetadata": request_id("req-flow-update")},
        {**flow_params, "name": "production", "routingConfiguration": [{"flowVersion": "1"}]},
    )
    stub.add_response("get_flow_alias", flow_alias("1"), flow_params)  # read back (production only)

    code = cli.main(
        [
            "rollback",
            "--prompt",
            "support-flow",
            "--to",
            "1",
            "--reason",
            "flow answers in the wrong language",
            "--actor",
            "jane@example.com",
            "--provider",
            "bedrock",
            "--target",
            f"bedrock_flow_id={FLOW_ID}",
            "--target",
            f"bedrock_alias_id={ALIAS_ID}",
            "--in-process",
        ]
    )
    assert code == 0
    assert '"outcome": "rolled_back"' in capsys.readouterr().out
    [decision] = stack.decisions("support-flow", provider="bedrock")
    assert (decision["from_version"], decision["to_version"]) == (3, 1)
    assert decision["registry_request_id"] == "req-flow-update"
    assert decision["provider_target"] == {"bedrock_flow_id": FLOW_ID, "bedrock_alias_id": ALIAS_ID}


def test_wiring_builds_the_bedrock_registry(stack: Stack):
    registry = wiring.registry_for("bedrock")
    assert isinstance(registry, BedrockRegistry)
    assert registry.provider == "bedrock"
