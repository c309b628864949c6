"""Bedrock production pointers moved by someone, from CloudTrail management events via EventBridge.
CloudTrail knows pointers, not the team's prompt names, so a Bedrock change is recorded in the
chain of the pointer itself (`bedrock#agent-alias/AGENTID/ALIASID`, ...): `pointer_name`."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prompt_rollback.domain.bedrock_targets import (
    AGENT_ID_LABEL,
    ALIAS_ID_LABEL,
    FLOW_ID_LABEL,
    PROMPT_PARAMETER_LABEL,
    parse_prompt_arn,
    version_number,
)
from prompt_rollback.domain.changes import Ignored, LedgerView, ProductionChange
from prompt_rollback.domain.times import WireTime

# Where each call's new version comes from:
# UpdateAgentAlias: requestParameters.routingConfiguration[0].agentVersion
# UpdateFlowAlias:  requestParameters.routingConfiguration[0].flowVersion
# PutParameter:     the value at responseElements.version (CloudTrail does not log parameter values)
POINTER_EVENTS = ("UpdateAgentAlias", "UpdateFlowAlias", "PutParameter")


class SessionIssuer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    arn: str = ""


class SessionContext(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    session_issuer: SessionIssuer | None = Field(default=None, alias="sessionIssuer")


class UserIdentity(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    type: str = ""
    arn: str = ""
    principal_id: str = Field(default="", alias="principalId")
    invoked_by: str = Field(default="", alias="invokedBy")
    session_context: SessionContext | None = Field(default=None, alias="sessionContext")

    @property
    def role_arn(self) -> str:
        """The IAM role behind an assumed-role session (what our functions' calls carry)."""
        issuer = self.session_context.session_issuer if self.session_context else None
        return issuer.arn if issuer else ""

    def describe(self) -> str:
        return self.arn or self.invoked_by or self.principal_id or self.type or "unknown principal"


# Who = userIdentity.arn, when = eventTime; requestID is kept for joining with the rest of
# CloudTrail, eventID de-duplicates EventBridge's at-least-once delivery. A call made by one of
# our own roles is our worker's rollback, already recorded by its decision.
class CloudTrailRecord(BaseModel):
    """The `detail` of an "AWS API Call via CloudTrail" event (the fields a pointer change needs)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_name: str = Field(alias="eventName")
    event_source: str = Field(alias="eventSource")
    event_time: WireTime = Field(alias="eventTime")
    event_id: str = Field(alias="eventID", min_length=1, max_length=200)
    request_id: str = Field(default="", alias="requestID", max_length=200)
    user_identity: UserIdentity = Field(alias="userIdentity")
    request_parameters: dict[str, Any] | None = Field(default=None, alias="requestParameters")
    response_elements: dict[str, Any] | None = Field(default=None, alias="responseElements")
    error_code: str | None = Field(default=None, alias="errorCode")


def _routed_version(parameters: dict[str, Any], key: str) -> int | None:
    routing = parameters.get("routingConfiguration") or []
    if not isinstance(routing, list) or not routing or not isinstance(routing[0], dict):
        return None
    return version_number(str(routing[0].get(key, "")))


# Value of an SSM parameter at one of its versions (None when it cannot be read).
ParameterValueAt = Callable[[str, int], str | None]


def pointer_of(record: CloudTrailRecord) -> tuple[str, dict[str, str]] | None:
    """The pointer a call names: its chain name and target labels; None for any other call."""
    parameters = record.request_parameters or {}
    if record.event_name == "UpdateAgentAlias":
        agent, alias = str(parameters.get("agentId", "")), str(parameters.get("agentAliasId", ""))
        if agent and alias:
            return f"agent-alias/{agent}/{alias}", {AGENT_ID_LABEL: agent, ALIAS_ID_LABEL: alias}
    elif record.event_name == "UpdateFlowAlias":
        flow, alias = str(parameters.get("flowIdentifier", "")), str(parameters.get("aliasIdentifier", ""))
        if flow and alias:
            return f"flow-alias/{flow}/{alias}", {FLOW_ID_LABEL: flow, ALIAS_ID_LABEL: alias}
    elif record.event_name == "PutParameter":
        name = str(parameters.get("name", ""))
        if name:
            return f"parameter{name if name.startswith('/') else '/' + name}", {PROMPT_PARAMETER_LABEL: name}
    return None


def new_version(record: CloudTrailRecord, value_at: ParameterValueAt | None) -> int | None:
    parameters = record.request_parameters or {}
    if record.event_name == "UpdateAgentAlias":
        return _routed_version(parameters, "agentVersion")
    if record.event_name == "UpdateFlowAlias":
        return _routed_version(parameters, "flowVersion")
    if record.event_name == "PutParameter" and value_at is not None:
        parameter_version = (record.response_elements or {}).get("version")
        if isinstance(parameter_version, int):
            value = value_at(str(parameters.get("name", "")), parameter_version)
            arn = parse_prompt_arn(value) if value else None
            return arn.version if arn else None
    return None


def cloudtrail_change(
    record: CloudTrailRecord,
    view: LedgerView,
    own_role_arns: Collection[str],
    to_version: int | None,
) -> ProductionChange | Ignored:
    """The production change one CloudTrail call made, given what the pointer's chain knows."""
    if record.event_name not in POINTER_EVENTS:
        return Ignored(f"{record.event_name} does not move a production pointer")
    if record.error_code:
        return Ignored(f"{record.event_name} failed ({record.error_code}): nothing changed")
    pointer = pointer_of(record)
    if pointer is None:
        return Ignored(f"{record.event_name} names no pointer")
    if record.event_id in view.seen_event_ids:
        return Ignored(f"CloudTrail event {record.event_id} already recorded")
    if record.user_identity.role_arn and record.user_identity.role_arn in own_role_arns:
        return Ignored("our own worker's call: recorded by its decision")
    if view.known and to_version is not None and view.production == to_version:
        return Ignored(f"v{to_version} already holds production on record")
    name, target = pointer
    return ProductionChange(
        prompt_key=f"bedrock#{name}",
        prompt_name=name,
        provider="bedrock",
        change="moved",
        from_version=view.production,
        to_version=to_version,
        actor=record.user_identity.describe(),
        changed_at=record.event_time,
        source="cloudtrail",
        source_event_ids=(record.event_id,),
        version=to_version,
        source_request_id=record.request_id,
        reason=f"{record.event_name} via {record.event_source}",
        provider_target=target,
    )
