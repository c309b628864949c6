"""For the application: which Bedrock prompt version is in production, read from the SSM pointer
that prompt-rollback rewrites on a rollback; pass it to Converse as `modelId` (docs/bedrock.md,
"In the application"). Needs `ssm:GetParameter` on the parameter."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import SSMProvider

from prompt_rollback.domain.bedrock_targets import parse_prompt_arn

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

# A rollback reaches every warm instance within the cache time, and a busy application makes one
# GetParameter call per instance per minute instead of one per request.
DEFAULT_CACHE_SECONDS = 60


class PromptPointerError(ValueError):
    """The parameter does not hold a prompt-version ARN: a deployment mistake, not a transient error."""


@lru_cache(maxsize=16)
def _provider(ssm_client: Any | None) -> SSMProvider:
    # One provider (and so one cache) per client; None is the default client of this process.
    return SSMProvider(boto3_client=ssm_client) if ssm_client is not None else SSMProvider()


def resolve_production_prompt_arn(
    parameter_name: str,
    ssm_client: SSMClient | None = None,
    cache_seconds: int = DEFAULT_CACHE_SECONDS,
) -> str:
    """The prompt-version ARN production points at, e.g. arn:aws:bedrock:…:prompt/PROMPT1234:6."""
    value = str(_provider(ssm_client).get(parameter_name, max_age=cache_seconds) or "").strip()
    pointed = parse_prompt_arn(value)
    if pointed is None or pointed.version is None:
        # An unversioned ARN is the DRAFT, which is never what production should serve.
        raise PromptPointerError(f"{parameter_name} does not hold a Bedrock prompt-version ARN")
    return value


def clear_cache() -> None:
    """Forget cached values (tests; or after writing the parameter in the same process)."""
    _provider.cache_clear()  # each provider holds its own cache: dropping them drops the values
