"""A Bedrock agent alias as the production pointer: `UpdateAgentAlias` routes it to another version.
Earlier production comes from the alias's `agentAliasHistoryEvents` (its last ten routings); a move
is done when `GetAgentAlias` reads PREPARED on the new version, polled within a bound (docs/bedrock.md)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prompt_rollback.adapters.aws_errors import all_items, call_aws
from prompt_rollback.domain.bedrock_targets import AgentAliasTarget, version_number
from prompt_rollback.domain.policy import RegistryState
from prompt_rollback.errors import RegistryRejected, RegistryUnavailable

if TYPE_CHECKING:
    from mypy_boto3_bedrock_agent import AgentsforBedrockClient
    from mypy_boto3_bedrock_agent.type_defs import (
        AgentAliasRoutingConfigurationListItemTypeDef,
        AgentAliasTypeDef,
        UpdateAgentAliasRequestTypeDef,
    )

PREPARED = "PREPARED"
# Statuses an alias passes through on its way to PREPARED: worth waiting for (or retrying).
SETTLING_STATUSES = frozenset({"CREATING", "UPDATING"})
# Only a version that finished preparing can serve; anything else is not a rollback target.
SERVABLE_VERSION_STATUS = "PREPARED"
# Poll bounds: 0.5 s, 1 s, 2 s, then every 4 s, for at most 25 s in all. An alias update
# usually settles within seconds; 25 s leaves the rest of the 60-second worker timeout for the
# read-back, Slack and the audit record.
# Past the bound the move is reported as retryable, and the last SQS attempt audits it as failed.
POLL_BUDGET_SECONDS = 25.0
FIRST_POLL_DELAY_SECONDS = 0.5
MAX_POLL_DELAY_SECONDS = 4.0
_LIST_PAGE_SIZE = 100


def routed_version(alias: AgentAliasTypeDef) -> int | None:
    """The numbered version an alias routes to; None for DRAFT or no routing."""
    routing = alias.get("routingConfiguration") or []
    return version_number(routing[0].get("agentVersion")) if routing else None


def _earlier_routings(alias: AgentAliasTypeDef) -> tuple[int, ...]:
    """Versions the alias routed to before, newest first (each once)."""
    epoch = datetime.min.replace(tzinfo=UTC)
    events = sorted(
        alias.get("agentAliasHistoryEvents") or [],
        key=lambda event: event.get("startDate") or epoch,
        reverse=True,
    )
    earlier: list[int] = []
    for event in events:
        for route in event.get("routingConfiguration") or []:
            version = version_number(route.get("agentVersion"))
            if version is not None and version not in earlier:
                earlier.append(version)
    return tuple(earlier)


class BedrockAgentAliasRegistry:
    def __init__(
        self,
        client: AgentsforBedrockClient,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll_budget_seconds: float = POLL_BUDGET_SECONDS,
    ) -> None:
        self._client = client
        self._sleep = sleep
        self._clock = clock
        self._poll_budget_seconds = poll_budget_seconds

    def _alias(self, target: AgentAliasTarget) -> AgentAliasTypeDef:
        response = call_aws(
            f"GetAgentAlias {target}",
            self._client.get_agent_alias,
            agentId=target.agent_id,
            agentAliasId=target.alias_id,
        )
        return response["agentAlias"]

    def _servable_versions(self, target: AgentAliasTarget) -> frozenset[int]:
        summaries = all_items(
            f"ListAgentVersions agent {target.agent_id}",
            self._client,
            "list_agent_versions",
            "agentVersionSummaries",
            _LIST_PAGE_SIZE,
            agentId=target.agent_id,
        )
        return frozenset(
            version
            for summary in summaries
            if (version := version_number(summary["agentVersion"])) is not None
            and summary["agentStatus"] == SERVABLE_VERSION_STATUS
        )

    def read_state(self, target: AgentAliasTarget) -> RegistryState:
        alias = self._settled_alias(target)
        return RegistryState(
            production_version=routed_version(alias),
            versions=self._servable_versions(target),
            previous_production=_earlier_routings(alias),
        )

    def read_production(self, target: AgentAliasTarget) -> int | None:
        return routed_version(self._settled_alias(target))

    def _settled_alias(self, target: AgentAliasTarget) -> AgentAliasTypeDef:
        alias = self._alias(target)
        status = alias["agentAliasStatus"]
        if status in SETTLING_STATUSES:
            # Someone (maybe our own earlier attempt) is changing it: decide once it settled.
            raise RegistryUnavailable(f"{target} is {status}, not PREPARED yet")
        if status != PREPARED:
            reasons = "; ".join(alias.get("failureReasons") or []) or "no reason given"
            raise RegistryRejected(f"{target} is {status} ({reasons})")
        return alias

    def move_production(self, target: AgentAliasTarget, version: int) -> str:
        alias = self._alias(target)
        # UpdateAgentAlias replaces the alias's settings: send back what should stay as it is.
        route: AgentAliasRoutingConfigurationListItemTypeDef = {"agentVersion": str(version)}
        current_route = (alias.get("routingConfiguration") or [{}])[0]
        if current_route.get("provisionedThroughput"):
            route["provisionedThroughput"] = current_route["provisionedThroughput"]
        request: UpdateAgentAliasRequestTypeDef = {
            "agentId": target.agent_id,
            "agentAliasId": target.alias_id,
            "agentAliasName": alias["agentAliasName"],
            "routingConfiguration": [route],
        }
        if alias.get("description"):
            request["description"] = alias["description"]
        if alias.get("aliasInvocationState"):
            request["aliasInvocationState"] = alias["aliasInvocationState"]
        response = call_aws(f"UpdateAgentAlias {target}", self._client.update_agent_alias, **request)
        request_id = response["ResponseMetadata"]["RequestId"]
        self._wait_until_prepared(target, version, request_id)
        return request_id

    def _wait_until_prepared(self, target: AgentAliasTarget, version: int, request_id: str) -> None:
        deadline = self._clock() + self._poll_budget_seconds
        delay = FIRST_POLL_DELAY_SECONDS
        last_seen = "not read yet"
        while self._clock() + delay <= deadline:
            self._sleep(delay)
            alias = self._alias(target)
            status = alias["agentAliasStatus"]
            routed = routed_version(alias)
            # PREPARED on the old version can be a read from before the update took effect.
            if status == PREPARED and routed == version:
                return
            if status not in SETTLING_STATUSES and status != PREPARED:
                reasons = "; ".join(alias.get("failureReasons") or []) or "no reason given"
                raise RegistryRejected(
                    f"{target} became {status} after UpdateAgentAlias {request_id} ({reasons})"
                )
            last_seen = f"{status}, routing to v{routed}" if routed else status
            delay = min(delay * 2, MAX_POLL_DELAY_SECONDS)
        raise RegistryUnavailable(
            f"{target} not PREPARED on v{version} {self._poll_budget_seconds:.0f} s after "
            f"UpdateAgentAlias {request_id} (last seen: {last_seen})"
        )
