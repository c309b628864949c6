"""Flow aliases through the Bedrock registry, against a real bedrock-agent client under Stubber."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import Stubber
from prompt_rollback.adapters.bedrock_agent_registry import BedrockAgentAliasRegistry
from prompt_rollback.adapters.bedrock_flow_registry import BedrockFlowAliasRegistry
from prompt_rollback.adapters.bedrock_prompt_pointer_registry import BedrockPromptPointerRegistry
from prompt_rollback.adapters.bedrock_registry import BedrockRegistry
from prompt_rollback.errors import NotFound, RegistryUnavailable
from prompt_rollback.ports import PromptRef

from tests.integration.bedrock_stubs import (
    ALIAS_ID,
    FLOW_ID,
    bedrock_agent_client,
    flow_alias,
    flow_versions,
    request_id,
    ssm_client,
)

REF = PromptRef("support-flow", {"bedrock_flow_id": FLOW_ID, "bedrock_alias_id": ALIAS_ID})
ALIAS_PARAMS = {"flowIdentifier": FLOW_ID, "aliasIdentifier": ALIAS_ID}


@pytest.fixture
def flows() -> Iterator[tuple[BedrockRegistry, Stubber]]:
    client = bedrock_agent_client()
    registry = BedrockRegistry(
        agent_aliases=BedrockAgentAliasRegistry(client),
        flow_aliases=BedrockFlowAliasRegistry(client),
        prompt_pointers=BedrockPromptPointerRegistry(ssm_client(), client),
    )
    with Stubber(client) as stub:
        yield registry, stub
        stub.assert_no_pending_responses()


def test_state_comes_from_the_alias_and_prepared_numbered_versions(flows):
    registry, stub = flows
    stub.add_response("get_flow_alias", flow_alias("3"), ALIAS_PARAMS)
    stub.add_response(
        "list_flow_versions",
        flow_versions("1", ("2", "Failed"), next_token="more"),
        {"flowIdentifier": FLOW_ID, "maxResults": 100},
    )
    stub.add_response(
        "list_flow_versions",
        flow_versions("3", ("4", "Preparing")),
        {"flowIdentifier": FLOW_ID, "maxResults": 100, "nextToken": "more"},
    )
    state = registry.read_state(REF)
    assert state.production_version == 3
    assert state.versions == frozenset({1, 3})
    # Flow aliases keep no routing history: the policy falls back to the audit ledger.
    assert state.previous_production == ()


def test_draft_routing_is_no_production_version(flows):
    registry, stub = flows
    stub.add_response("get_flow_alias", flow_alias("DRAFT"), ALIAS_PARAMS)
    stub.add_response("list_flow_versions", flow_versions("1"))
    assert registry.read_state(REF).production_version is None


def test_rollback_keeps_the_alias_settings_and_returns_the_request_id(flows):
    registry, stub = flows
    concurrency = {"type": "Manual", "maxConcurrency": 4}
    stub.add_response(
        "get_flow_alias",
        flow_alias("3", description="support answers", concurrencyConfiguration=concurrency),
        ALIAS_PARAMS,
    )
    stub.add_response(
        "update_flow_alias",
        {**flow_alias("1"), "ResponseMetadata": request_id("req-flow-1")},
        {
            **ALIAS_PARAMS,
            "name": "production",
            "routingConfiguration": [{"flowVersion": "1"}],
            "description": "support answers",
            "concurrencyConfiguration": concurrency,
        },
    )
    assert registry.move_production(REF, 1) == "req-flow-1"


def test_throttling_is_retryable_and_a_missing_alias_is_not(flows):
    registry, stub = flows
    stub.add_client_error("get_flow_alias", service_error_code="ThrottlingException", http_status_code=429)
    with pytest.raises(RegistryUnavailable):
        registry.read_state(REF)
    stub.add_client_error(
        "get_flow_alias", service_error_code="ResourceNotFoundException", http_status_code=404
    )
    with pytest.raises(NotFound):
        registry.move_production(REF, 1)
