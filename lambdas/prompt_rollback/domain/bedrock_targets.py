"""Which Amazon Bedrock production pointer an alert names, and what Bedrock's identifiers look like.
Agent alias, flow alias or SSM prompt pointer (docs/bedrock.md). The webhook uses these to skip
an alert with a clear reason, the worker to refuse a request (a forced one, say) that names no target."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

AGENT_ID_LABEL = "bedrock_agent_id"
FLOW_ID_LABEL = "bedrock_flow_id"
ALIAS_ID_LABEL = "bedrock_alias_id"
PROMPT_PARAMETER_LABEL = "prompt_parameter"
TARGET_LABELS = (AGENT_ID_LABEL, FLOW_ID_LABEL, ALIAS_ID_LABEL, PROMPT_PARAMETER_LABEL)

# Bedrock's own patterns (botocore's service model): agent, flow and alias ids are ten
# letters or digits. TSTALIASID is the built-in test alias; it always routes to DRAFT.
RESOURCE_ID_TEXT = r"[0-9A-Za-z]{10}"
RESOURCE_ID = re.compile(rf"^{RESOURCE_ID_TEXT}$")
TEST_ALIAS_ID = "TSTALIASID"
# SSM parameter names: letters, digits and _ . - /, at most 2048 characters with the path;
# names starting with "aws" or "ssm" are reserved by AWS.
PARAMETER_NAME = re.compile(r"^[A-Za-z0-9_.\-/]{1,2048}$")
RESERVED_PARAMETER_PREFIXES = ("aws", "ssm")
# A prompt ARN, with a version (arn:aws:bedrock:<region>:<account>:prompt/<id>:<n>) or without
# one (the DRAFT).
_PROMPT_ARN = re.compile(
    r"^(?P<unversioned_arn>arn:(?P<partition>aws[a-z-]*):bedrock:(?P<region>[a-z0-9-]{1,20}):"
    r"(?P<account>[0-9]{12}):prompt/(?P<prompt_id>[0-9A-Za-z]{10}))(?::(?P<version>[0-9]{1,5}))?$"
)

MISSING_TARGET = (
    "missing target labels: name the Bedrock pointer with bedrock_agent_id + bedrock_alias_id, "
    "bedrock_flow_id + bedrock_alias_id, or prompt_parameter"
)


@dataclass(frozen=True)
class AgentAliasTarget:
    agent_id: str
    alias_id: str

    def __str__(self) -> str:
        return f"agent {self.agent_id} alias {self.alias_id}"


@dataclass(frozen=True)
class FlowAliasTarget:
    flow_id: str
    alias_id: str

    def __str__(self) -> str:
        return f"flow {self.flow_id} alias {self.alias_id}"


@dataclass(frozen=True)
class PromptParameterTarget:
    parameter_name: str

    def __str__(self) -> str:
        return f"SSM parameter {self.parameter_name}"


BedrockTarget = AgentAliasTarget | FlowAliasTarget | PromptParameterTarget


@dataclass(frozen=True)
class PromptArn:
    """A Bedrock prompt ARN split up; `version` is None for the DRAFT (an ARN without a version)."""

    unversioned_arn: str
    region: str
    prompt_id: str
    version: int | None

    def at_version(self, version: int) -> str:
        return f"{self.unversioned_arn}:{version}"


def _given(labels: Mapping[str, str], name: str) -> str:
    # Alertmanager drops empty labels itself; a blank one is treated the same way.
    return labels.get(name, "").strip()


def _alias_problem(alias_id: str) -> str | None:
    if alias_id == TEST_ALIAS_ID:
        return (
            f"invalid label: {ALIAS_ID_LABEL} {TEST_ALIAS_ID} is the test alias, which always routes to DRAFT"
        )
    if not RESOURCE_ID.match(alias_id):
        return f"invalid label: {ALIAS_ID_LABEL} must be 10 letters or digits"
    return None


def parameter_name_problem(name: str) -> str | None:
    """Why `name` is not an SSM parameter name, or None when it is one."""
    if not PARAMETER_NAME.match(name) or "//" in name:
        return "must be an SSM parameter name (letters, digits and _ . - /, e.g. /prompts/support/production)"
    if name.lstrip("/").lower().startswith(RESERVED_PARAMETER_PREFIXES):
        return "must not start with aws or ssm (reserved by AWS)"
    return None


def bedrock_target(labels: Mapping[str, str]) -> BedrockTarget | str:
    """The pointer an alert (or a forced rollback) names, or the reason it names none."""
    agent_id = _given(labels, AGENT_ID_LABEL)
    flow_id = _given(labels, FLOW_ID_LABEL)
    alias_id = _given(labels, ALIAS_ID_LABEL)
    parameter_name = _given(labels, PROMPT_PARAMETER_LABEL)
    if parameter_name:
        others = [name for name, value in ((AGENT_ID_LABEL, agent_id), (FLOW_ID_LABEL, flow_id)) if value]
        others += [ALIAS_ID_LABEL] if alias_id else []
        if others:
            return (
                f"contradictory target labels: {PROMPT_PARAMETER_LABEL} and {', '.join(others)} "
                "name different pointers; keep one"
            )
        problem = parameter_name_problem(parameter_name)
        if problem:
            return f"invalid label: {PROMPT_PARAMETER_LABEL} {problem}"
        return PromptParameterTarget(parameter_name)
    if agent_id and flow_id:
        return (
            f"contradictory target labels: {AGENT_ID_LABEL} and {FLOW_ID_LABEL} "
            "name different pointers; keep one"
        )
    if agent_id or flow_id:
        owner_label, owner_id = (AGENT_ID_LABEL, agent_id) if agent_id else (FLOW_ID_LABEL, flow_id)
        kind = "agent" if agent_id else "flow"
        if not RESOURCE_ID.match(owner_id):
            return f"invalid label: {owner_label} must be 10 letters or digits"
        if not alias_id:
            return f"missing label {ALIAS_ID_LABEL} (which alias of the {kind} to roll back)"
        problem = _alias_problem(alias_id)
        if problem:
            return problem
        return AgentAliasTarget(agent_id, alias_id) if agent_id else FlowAliasTarget(flow_id, alias_id)
    if alias_id:
        return f"missing label {AGENT_ID_LABEL} or {FLOW_ID_LABEL} (whose alias {ALIAS_ID_LABEL} is)"
    return MISSING_TARGET


def target_labels_problem(provider: str, labels: Mapping[str, str]) -> str | None:
    """Why the labels do not name a pointer of `provider`, or None when they do (or need not)."""
    if provider == "bedrock":
        target = bedrock_target(labels)
        return target if isinstance(target, str) else None
    stray = [name for name in TARGET_LABELS if _given(labels, name)]
    if stray:
        # Most likely a forgotten provider="bedrock": acting on the Langfuse prompt of the same
        # name would roll back something nobody asked about.
        return (
            f"Bedrock target labels ({', '.join(stray)}) on a {provider} alert: "
            'set provider="bedrock" or drop them'
        )
    return None


def version_number(version: str | None) -> int | None:
    """A Bedrock version string as a number; None for "DRAFT" (never a rollback target) or garbage."""
    if version is None or not version.isascii() or not version.isdigit():
        return None
    number = int(version)
    return number if number >= 1 else None


def parse_prompt_arn(text: str) -> PromptArn | None:
    """A prompt ARN (with or without version) split up, or None when `text` is not one."""
    match = _PROMPT_ARN.match(text.strip())
    if match is None:
        return None
    version = version_number(match["version"]) if match["version"] else None
    if match["version"] and version is None:
        return None  # ":0": not a version Bedrock hands out
    return PromptArn(
        unversioned_arn=match["unversioned_arn"],
        region=match["region"],
        prompt_id=match["prompt_id"],
        version=version,
    )
