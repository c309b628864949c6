"""Agent aliases through the Bedrock registry, against a real bedrock-agent client under Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from botocore.stub import Stubber
from prompt_rollback.adapters.bedrock_agent_registry import POLL_BUDGET_SECONDS, BedrockAgentAliasRegistry
from prompt_rollback.adapters.bedrock_flow_registry import BedrockFlowAliasRegistry
from prompt_rollback.adapters.bedrock_prompt_pointer_registry import BedrockPromptPointerRegistry
from prompt_rollback.adapters.bedrock_registry import BedrockRegistry
from prompt_rollback.errors import NotFound, RegistryRejected, RegistryUnavailable
from prompt_rollback.ports import PromptRef

from tests.integration.bedrock_stubs import (
    AGENT_ID,
    ALIAS_ID,
    FakeTime,
    agent_alias,
    agent_versions,
    bedrock_agent_client,
    request_id,
    ssm_client,
)

REF = PromptRef("support-answer", {"bedrock_agent_id": AGENT_ID, "bedrock_alias_id": ALIAS_ID})
ALIAS_PARAMS = {"agentId": AGENT_ID, "agentAliasId": ALIAS_ID}


class Agents:
    def __init__(self) -> None:
        self.client = bedrock_agent_client()
        self.stub = Stubber(self.client)
        self.time = FakeTime()
        self.registry = BedrockRegistry(
            agent_aliases=BedrockAgentAliasRegistry(
                self.client, sleep=self.time.sleep, clock=self.time.clock
            ),
            flow_aliases=BedrockFlowAliasRegistry(self.client),
            prompt_pointers=BedrockPromptPointerRegistry(ssm_client(), self.client),
        )

    def alias(self, version: str, status: str = "PREPARED", **extra) -> None:
        self.stub.add_response("get_agent_alias", agent_alias(version, status, **extra), ALIAS_PARAMS)

    def versions(self, *versions, next_token=None, expected_token=None) -> None:
        params = {"agentId": AGENT_ID, "maxResults": 100}
        if expected_token:
            params["nextToken"] = expected_token
        self.stub.add_response(
            "list_agent_versions", agent_versions(*versions, next_token=next_token), params
        )


@pytest.fixture
def agents() -> Iterator[Agents]:
    agents = Agents()
    with agents.stub:
        yield agents
        agents.stub.assert_no_pending_responses()


def test_state_comes_from_routing_history_and_prepared_numbered_versions(agents: Agents):
    agents.alias(
        "7",
        history=[
            ("5", datetime(2026, 4, 1, tzinfo=UTC)),
            ("DRAFT", datetime(2026, 4, 5, tzinfo=UTC)),
            ("6", datetime(2026, 4, 10, tzinfo=UTC)),
            ("7", datetime(2026, 4, 17, tzinfo=UTC)),
        ],
    )
    agents.versions("DRAFT", "4", "5", next_token="page-2")
    agents.versions("6", ("8", "FAILED"), "7", ("9", "VERSIONING"), expected_token="page-2")
    state = agents.registry.read_state(REF)
    assert state.production_version == 7
    # DRAFT is never a target; neither is a version that failed or is still being created.
    assert state.versions == frozenset({4, 5, 6, 7})
    # agentAliasHistoryEvents, newest first (the current routing is filtered by the policy).
    assert state.previous_production == (7, 6, 5)


def test_an_alias_routed_to_draft_has_no_production_version(agents: Agents):
    agents.alias("DRAFT")
    agents.versions("1")
    assert agents.registry.read_state(REF).production_version is None


def test_rollback_keeps_the_alias_settings_and_waits_until_prepared(agents: Agents):
    agents.alias(
        "7",
        description="answers support questions",
        aliasInvocationState="ACCEPT_INVOCATIONS",
        routingConfiguration=[{"agentVersion": "7", "provisionedThroughput": "support-pt"}],
    )
    agents.stub.add_response(
        "update_agent_alias",
        {**agent_alias("6", "UPDATING"), "ResponseMetadata": request_id("req-update-1")},
        {
            **ALIAS_PARAMS,
            "agentAliasName": "production",
            "routingConfiguration": [{"agentVersion": "6", "provisionedThroughput": "support-pt"}],
            "description": "answers support questions",
            "aliasInvocationState": "ACCEPT_INVOCATIONS",
        },
    )
    agents.alias("6", "UPDATING")
    agents.alias("7", "PREPARED")  # a read from before the update took effect: keep polling
    agents.alias("6", "PREPARED")
    assert agents.registry.move_production(REF, 6) == "req-update-1"
    assert agents.time.sleeps == [0.5, 1.0, 2.0]


def test_an_alias_that_never_gets_prepared_is_a_retryable_failure(agents: Agents):
    agents.alias("7")
    agents.stub.add_response(
        "update_agent_alias", {**agent_alias("6", "UPDATING"), "ResponseMetadata": request_id("req-stuck")}
    )
    for _ in range(8):  # 0.5 + 1 + 2 + 4 * 5 = 23.5 s of the 25 s budget
        agents.alias("6", "UPDATING")
    with pytest.raises(RegistryUnavailable) as raised:
        agents.registry.move_production(REF, 6)
    assert raised.value.retryable
    assert str(raised.value) == (
        f"agent {AGENT_ID} alias {ALIAS_ID} not PREPARED on v6 25 s after UpdateAgentAlias req-stuck "
        "(last seen: UPDATING, routing to v6)"
    )
    assert sum(agents.time.sleeps) <= POLL_BUDGET_SECONDS


def test_an_alias_that_fails_to_update_is_a_permanent_failure(agents: Agents):
    agents.alias("7")
    agents.stub.add_response(
        "update_agent_alias", {**agent_alias("6", "UPDATING"), "ResponseMetadata": request_id("req-bad")}
    )
    agents.alias("6", "FAILED", failureReasons=["version 6 uses a model that is no longer available"])
    with pytest.raises(RegistryRejected) as raised:
        agents.registry.move_production(REF, 6)
    assert not raised.value.retryable
    assert "became FAILED after UpdateAgentAlias req-bad" in str(raised.value)
    assert "no longer available" in str(raised.value)


@pytest.mark.parametrize(
    ("status", "error", "retryable"),
    [("UPDATING", RegistryUnavailable, True), ("FAILED", RegistryRejected, False)],
)
def test_an_alias_that_is_not_prepared_is_not_decided_on(agents: Agents, status, error, retryable):
    agents.alias("7", status)
    with pytest.raises(error) as raised:
        agents.registry.read_state(REF)
    assert raised.value.retryable is retryable
    assert status in str(raised.value)


@pytest.mark.parametrize(
    ("code", "http_status", "error", "retryable"),
    [
        ("ThrottlingException", 429, RegistryUnavailable, True),
        ("InternalServerException", 500, RegistryUnavailable, True),
        ("ConflictException", 409, RegistryUnavailable, True),
        ("ResourceNotFoundException", 404, NotFound, False),
        ("AccessDeniedException", 403, RegistryRejected, False),
        ("ValidationException", 400, RegistryRejected, False),
    ],
)
def test_aws_errors_after_the_clients_retries_are_classified(
    agents: Agents, code, http_status, error, retryable
):
    agents.stub.add_client_error(
        "get_agent_alias", service_error_code=code, http_status_code=http_status, expected_params=ALIAS_PARAMS
    )
    with pytest.raises(error) as raised:
        agents.registry.read_state(REF)
    assert raised.value.retryable is retryable
    assert str(raised.value).startswith(f"GetAgentAlias agent {AGENT_ID} alias {ALIAS_ID}: {code}")


def test_a_request_without_target_labels_is_refused_before_any_call(agents: Agents):
    with pytest.raises(RegistryRejected, match="missing label bedrock_alias_id"):
        agents.registry.read_state(PromptRef("support-answer", {"bedrock_agent_id": AGENT_ID}))
