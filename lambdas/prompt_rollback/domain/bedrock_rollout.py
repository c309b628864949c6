"""Rollouts on Amazon Bedrock: only the SSM prompt pointer can split traffic. Its value is a plain
prompt-version ARN, or JSON with the stable ARN, the candidate ARN and the candidate's share
(docs/rollout.md, "The SSM prompt pointer")."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from prompt_rollback.domain.bedrock_targets import (
    AgentAliasTarget,
    PromptArn,
    PromptParameterTarget,
    bedrock_target,
    parse_prompt_arn,
)
from prompt_rollback.domain.rollout_split import MAX_SHARE


class UnsplittableTarget(ValueError):
    """A rollout plan names a Bedrock pointer that cannot hold two versions at once."""


@dataclass(frozen=True)
class PromptPointerValue:
    """What an SSM prompt pointer says: the stable version and, during a rollout, the candidate."""

    prompt: PromptArn  # the prompt both versions belong to
    stable_version: int
    candidate_version: int | None = None
    share: int = 0

    def arn(self, version: int) -> str:
        return self.prompt.at_version(version)

    def to_text(self) -> str:
        """The parameter value: the plain ARN without a rollout (what older readers understand)."""
        if self.candidate_version is None:
            return self.arn(self.stable_version)
        return json.dumps(
            {
                "stable": self.arn(self.stable_version),
                "candidate": self.arn(self.candidate_version),
                "share": self.share,
            }
        )


def _versioned_arn(value: object, field: str) -> tuple[PromptArn, int]:
    arn = parse_prompt_arn(value) if isinstance(value, str) else None
    if arn is None or arn.version is None:
        raise ValueError(f"{field} must be a Bedrock prompt-version ARN (arn:aws:bedrock:…:prompt/ID:N)")
    return arn, arn.version


def parse_pointer_value(text: str) -> PromptPointerValue:
    """The pointer's value read: a prompt-version ARN, or the rollout JSON; ValueError says why not."""
    text = text.strip()
    if not text.startswith("{"):
        return PromptPointerValue(*_versioned_arn(text, "the value"))
    try:
        document = json.loads(text)  # starts with "{": an object when valid at all
    except ValueError as error:
        raise ValueError("the value is neither a prompt-version ARN nor JSON") from error
    stable, stable_version = _versioned_arn(document.get("stable"), "stable")
    if document.get("candidate") is None:
        return PromptPointerValue(stable, stable_version)
    candidate, candidate_version = _versioned_arn(document["candidate"], "candidate")
    if candidate.unversioned_arn != stable.unversioned_arn:
        raise ValueError("stable and candidate must be versions of the same prompt")
    share = document.get("share")
    if not isinstance(share, int) or isinstance(share, bool) or not 0 <= share <= MAX_SHARE:
        raise ValueError(f"share must be a whole number of percent from 0 to {MAX_SHARE}")
    return PromptPointerValue(stable, stable_version, candidate_version, share)


def rollout_target(labels: Mapping[str, str]) -> PromptParameterTarget:
    """The Bedrock pointer a rollout plan names, if it can split traffic; else UnsplittableTarget."""
    target = bedrock_target(labels)
    if isinstance(target, str):
        raise UnsplittableTarget(target)
    if isinstance(target, PromptParameterTarget):
        return target
    routes = (
        "an agent alias routes to one version (its routingConfiguration has no weights)"
        if isinstance(target, AgentAliasTarget)
        else "a flow alias routes to exactly one version"
    )
    raise UnsplittableTarget(
        f"{target} cannot split traffic: {routes}. Keep the production version in an SSM prompt "
        "pointer (prompt_parameter, see docs/rollout.md) and roll out through it"
    )
