"""A Bedrock flow alias as the production pointer: `UpdateFlowAlias` (synchronous) routes it to another
version. Flow aliases keep no routing history, so earlier production comes from our own audit ledger
(the policy falls back to it). DRAFT is never a target."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prompt_rollback.adapters.aws_errors import all_items, call_aws
from prompt_rollback.domain.bedrock_targets import FlowAliasTarget, version_number
from prompt_rollback.domain.policy import RegistryState

if TYPE_CHECKING:
    from mypy_boto3_bedrock_agent import AgentsforBedrockClient
    from mypy_boto3_bedrock_agent.type_defs import (
        GetFlowAliasResponseTypeDef,
        UpdateFlowAliasRequestTypeDef,
    )

# Only a version that finished preparing can run; anything else is not a rollback target.
SERVABLE_VERSION_STATUS = "Prepared"
_LIST_PAGE_SIZE = 100


def routed_version(alias: GetFlowAliasResponseTypeDef) -> int | None:
    routing = alias.get("routingConfiguration") or []
    return version_number(routing[0].get("flowVersion")) if routing else None


class BedrockFlowAliasRegistry:
    def __init__(self, client: AgentsforBedrockClient) -> None:
        self._client = client

    def _alias(self, target: FlowAliasTarget) -> GetFlowAliasResponseTypeDef:
        return call_aws(
            f"GetFlowAlias {target}",
            self._client.get_flow_alias,
            flowIdentifier=target.flow_id,
            aliasIdentifier=target.alias_id,
        )

    def _servable_versions(self, target: FlowAliasTarget) -> frozenset[int]:
        summaries = all_items(
            f"ListFlowVersions flow {target.flow_id}",
            self._client,
            "list_flow_versions",
            "flowVersionSummaries",
            _LIST_PAGE_SIZE,
            flowIdentifier=target.flow_id,
        )
        return frozenset(
            version
            for summary in summaries
            if (version := version_number(summary["version"])) is not None
            and summary["status"] == SERVABLE_VERSION_STATUS
        )

    def read_state(self, target: FlowAliasTarget) -> RegistryState:
        alias = self._alias(target)
        return RegistryState(
            production_version=routed_version(alias), versions=self._servable_versions(target)
        )

    def read_production(self, target: FlowAliasTarget) -> int | None:
        return routed_version(self._alias(target))

    def move_production(self, target: FlowAliasTarget, version: int) -> str:
        alias = self._alias(target)
        # UpdateFlowAlias replaces the alias's settings: send back what should stay as it is.
        request: UpdateFlowAliasRequestTypeDef = {
            "flowIdentifier": target.flow_id,
            "aliasIdentifier": target.alias_id,
            "name": alias["name"],
            "routingConfiguration": [{"flowVersion": str(version)}],
        }
        if alias.get("description"):
            request["description"] = alias["description"]
        if alias.get("concurrencyConfiguration"):
            request["concurrencyConfiguration"] = alias["concurrencyConfiguration"]
        response = call_aws(f"UpdateFlowAlias {target}", self._client.update_flow_alias, **request)
        return response["ResponseMetadata"]["RequestId"]
