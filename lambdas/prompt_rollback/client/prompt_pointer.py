"""For the application: which Bedrock prompt version to serve, read from the SSM pointer that
prompt-rollback rewrites (docs/bedrock.md, "In the application"; during a rollout docs/rollout.md).
Pass the ARN to Converse as `modelId`. Needs `ssm:GetParameter` on the parameter."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import SSMProvider

from prompt_rollback.domain.bedrock_rollout import PromptPointerValue, parse_pointer_value
from prompt_rollback.domain.rollout_split import Arm, assign

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

# A rollback reaches every warm instance within the cache time, and a busy application makes one
# GetParameter call per instance per minute instead of one per request.
DEFAULT_CACHE_SECONDS = 60


class PromptPointerError(ValueError):
    """The parameter does not hold a prompt-version ARN: a deployment mistake, not a transient error."""


@dataclass(frozen=True)
class PointedPrompt:
    """The prompt version to serve: `arm` stable or candidate, `share` the candidate's percent (0
    without a rollout), `sticky` False when no unit decided the arm (a random draw per request)."""

    arn: str
    version: int
    arm: Arm
    share: int
    sticky: bool
    candidate_version: int | None


@lru_cache(maxsize=16)
def _provider(ssm_client: Any | None) -> SSMProvider:
    # One provider (and so one cache) per client; None is the default client of this process.
    return SSMProvider(boto3_client=ssm_client) if ssm_client is not None else SSMProvider()


def _pointer_value(parameter_name: str, ssm_client: Any | None, cache_seconds: int) -> PromptPointerValue:
    value = str(_provider(ssm_client).get(parameter_name, max_age=cache_seconds) or "")
    try:
        return parse_pointer_value(value)
    except ValueError as error:
        # An unversioned ARN is the DRAFT, which is never what production should serve.
        raise PromptPointerError(
            f"{parameter_name} does not hold a Bedrock prompt-version ARN or a rollout of one: {error}"
        ) from error


def resolve_production_prompt_arn(
    parameter_name: str,
    ssm_client: SSMClient | None = None,
    cache_seconds: int = DEFAULT_CACHE_SECONDS,
) -> str:
    """The stable prompt-version ARN, e.g. arn:aws:bedrock:…:prompt/PROMPT1234:6 (also mid-rollout)."""
    pointer = _pointer_value(parameter_name, ssm_client, cache_seconds)
    return pointer.arn(pointer.stable_version)


def rollout_prompt_arn(
    parameter_name: str,
    unit: str | None = None,
    ssm_client: SSMClient | None = None,
    cache_seconds: int = DEFAULT_CACHE_SECONDS,
) -> PointedPrompt:
    """The prompt version `unit` (a user or session id) should be served, by the split contract with
    the prompt id as the prompt; without a unit, a random draw per request."""
    pointer = _pointer_value(parameter_name, ssm_client, cache_seconds)
    stable, candidate = pointer.stable_version, pointer.candidate_version
    if candidate is None or candidate == stable:
        return PointedPrompt(pointer.arn(stable), stable, "stable", 0, bool(unit), None)
    assigned = assign(pointer.prompt.prompt_id, candidate, pointer.share, unit)
    version = candidate if assigned.arm == "candidate" else stable
    return PointedPrompt(
        pointer.arn(version), version, assigned.arm, pointer.share, assigned.sticky, candidate
    )


def clear_cache() -> None:
    """Forget cached values (tests; or after writing the parameter in the same process)."""
    _provider.cache_clear()  # each provider holds its own cache: dropping them drops the values
