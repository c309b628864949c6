"""Composition root: read the environment once, build each adapter once per execution environment.

Everything is built on first use, not at import, so a cold start only pays for what the
invocation needs and tests can point the environment at moto before anything connects. The
adapters are imported the same way: the webhook never loads the worker's (requests for Slack,
httpx for Langfuse, the Bedrock clients), and a worker loads only the registries it is asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.config import Config

from prompt_rollback.adapters.rollback_queue import SqsRollbackQueue
from prompt_rollback.domain.policy_config import PolicyConfig

if TYPE_CHECKING:  # imported where they are built (see the module docstring)
    from prompt_rollback.adapters.audit_store import DynamoDBAuditLedger
    from prompt_rollback.adapters.bedrock_registry import BedrockRegistry
    from prompt_rollback.adapters.langfuse_registry import LangfuseRegistry
    from prompt_rollback.adapters.registry import PromptRegistry
    from prompt_rollback.adapters.slack import Notifier
    from prompt_rollback.service import RollbackService

# botocore's standard retry mode: exponential backoff with jitter on throttling and 5xx.
# `max_attempts` counts retries, so a call makes at most 6 requests before its error reaches us.
AWS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=10,
)
SECRET_CACHE_SECONDS = 300
DEFAULT_LANGFUSE_TIMEOUT_SECONDS = 10.0


class ConfigurationError(Exception):
    """A required setting is missing or malformed: a deployment problem, not a bad request."""


@dataclass(frozen=True)
class Settings:
    stage: str
    queue_url: str
    audit_table: str
    idempotency_table: str
    webhook_token_secret: str
    langfuse_secret: str
    slack_webhook_secret: str
    max_receive_count: int
    idempotency_expiry_seconds: int
    policy: PolicyConfig


def required_setting(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


@cache
def settings() -> Settings:
    try:
        policy = PolicyConfig.model_validate_json(os.environ.get("ROLLBACK_POLICY") or "{}")
    except ValueError as error:
        raise ConfigurationError(f"ROLLBACK_POLICY is invalid: {error}") from error
    return Settings(
        stage=os.environ.get("STAGE", ""),
        queue_url=os.environ.get("ROLLBACK_QUEUE_URL", ""),
        audit_table=os.environ.get("AUDIT_TABLE_NAME", ""),
        idempotency_table=os.environ.get("IDEMPOTENCY_TABLE_NAME", ""),
        webhook_token_secret=os.environ.get("WEBHOOK_TOKEN_SECRET_NAME", ""),
        langfuse_secret=os.environ.get("LANGFUSE_SECRET_NAME", ""),
        slack_webhook_secret=os.environ.get("SLACK_WEBHOOK_SECRET_NAME", ""),
        max_receive_count=int(os.environ.get("MAX_RECEIVE_COUNT", "5")),
        idempotency_expiry_seconds=int(os.environ.get("IDEMPOTENCY_EXPIRY_SECONDS", str(7 * 24 * 3600))),
        policy=policy,
    )


def aws_client(service: str) -> Any:
    return boto3.client(service, config=AWS_CLIENT_CONFIG)  # type: ignore[call-overload]


def webhook_token() -> str:
    """The Bearer token Alertmanager must present; cached, so rotation takes effect within minutes."""
    name = settings().webhook_token_secret or required_setting("WEBHOOK_TOKEN_SECRET_NAME")
    return str(parameters.get_secret(name, max_age=SECRET_CACHE_SECONDS))


@cache
def _previous_secret_versions() -> parameters.SecretsProvider:
    # A provider of its own: Powertools caches by secret name only, not by version stage.
    return parameters.SecretsProvider(boto_config=AWS_CLIENT_CONFIG)


def previous_webhook_token() -> str | None:
    """The token before the last rotation (AWSPREVIOUS), so Alertmanagers still holding it keep
    working until their config is updated; None when the secret was never rotated."""
    name = settings().webhook_token_secret or required_setting("WEBHOOK_TOKEN_SECRET_NAME")
    try:
        value = _previous_secret_versions().get(
            name, max_age=SECRET_CACHE_SECONDS, VersionStage="AWSPREVIOUS"
        )
    except parameters.exceptions.GetParameterError:
        return None
    return str(value) if value else None


@cache
def rollback_queue() -> SqsRollbackQueue:
    return SqsRollbackQueue(aws_client("sqs"), settings().queue_url or required_setting("ROLLBACK_QUEUE_URL"))


@cache
def audit_ledger() -> DynamoDBAuditLedger:
    from prompt_rollback.adapters.audit_store import DynamoDBAuditLedger

    table_name = settings().audit_table or required_setting("AUDIT_TABLE_NAME")
    return DynamoDBAuditLedger(boto3.resource("dynamodb", config=AWS_CLIENT_CONFIG).Table(table_name))


def _langfuse_registry() -> LangfuseRegistry:
    from prompt_rollback.adapters.langfuse_registry import LangfuseRegistry

    secret_name = settings().langfuse_secret
    if secret_name:
        credentials: Any = parameters.get_secret(secret_name, transform="json", max_age=SECRET_CACHE_SECONDS)
        try:
            return LangfuseRegistry(
                credentials["host"],
                credentials["public_key"],
                credentials["secret_key"],
                timeout_seconds=_langfuse_timeout_seconds(),
            )
        except (KeyError, TypeError) as error:
            raise ConfigurationError(
                f"secret {secret_name} must be JSON with host, public_key and secret_key"
            ) from error
    return LangfuseRegistry(
        os.environ.get("LANGFUSE_HOST", "https://cloud.langfuse.com"),
        required_setting("LANGFUSE_PUBLIC_KEY"),
        required_setting("LANGFUSE_SECRET_KEY"),
        timeout_seconds=_langfuse_timeout_seconds(),
    )


def _langfuse_timeout_seconds() -> float:
    """Per-request timeout of the Langfuse client (LANGFUSE_TIMEOUT_SECONDS, default 10 s)."""
    raw = os.environ.get("LANGFUSE_TIMEOUT_SECONDS", "").strip()
    if not raw:
        return DEFAULT_LANGFUSE_TIMEOUT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ConfigurationError(f"LANGFUSE_TIMEOUT_SECONDS must be a positive number, not {raw!r}")
    return seconds


def _bedrock_registry() -> BedrockRegistry:
    from prompt_rollback.adapters.bedrock_agent_registry import BedrockAgentAliasRegistry
    from prompt_rollback.adapters.bedrock_flow_registry import BedrockFlowAliasRegistry
    from prompt_rollback.adapters.bedrock_prompt_pointer_registry import BedrockPromptPointerRegistry
    from prompt_rollback.adapters.bedrock_registry import BedrockRegistry

    # The targets live in the worker's own account and region (docs/bedrock.md); the role may
    # touch only the ones named in the CDK context.
    bedrock_agent = aws_client("bedrock-agent")
    return BedrockRegistry(
        agent_aliases=BedrockAgentAliasRegistry(bedrock_agent),
        flow_aliases=BedrockFlowAliasRegistry(bedrock_agent),
        prompt_pointers=BedrockPromptPointerRegistry(aws_client("ssm"), bedrock_agent),
    )


@cache
def registry_for(provider: str) -> PromptRegistry:
    """One registry adapter per provider, built when the first request for it arrives."""
    if provider == "langfuse":
        return _langfuse_registry()
    if provider == "bedrock":
        return _bedrock_registry()
    raise ConfigurationError(f"no registry adapter for provider {provider!r}")


def _notifier() -> Notifier:
    from prompt_rollback import slack_wiring
    from prompt_rollback.adapters.slack import ConsoleNotifier, SlackWebhookNotifier

    if slack_wiring.bot_token():  # app mode: one message per incident, with buttons
        return slack_wiring.app_notifier()

    secret_name = settings().slack_webhook_secret
    url = (
        str(parameters.get_secret(secret_name, max_age=SECRET_CACHE_SECONDS))
        if secret_name
        else os.environ.get("SLACK_WEBHOOK_URL", "")
    )
    if not url:
        return ConsoleNotifier()
    if not _usable_webhook_url(url):
        # The deployed secret starts out as a random placeholder until someone stores the real
        # URL: say so in the audit instead of posting decisions to wherever the placeholder points.
        return ConsoleNotifier(status="not_configured")
    return SlackWebhookNotifier(url)


def _usable_webhook_url(url: str) -> bool:
    parts = urlsplit(url.strip())
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    return bool(parts.netloc) and (parts.scheme == "https" or (parts.scheme == "http" and loopback))


@cache
def rollback_service() -> RollbackService:
    from prompt_rollback.service import RollbackService

    config = settings()
    return RollbackService(
        registries=registry_for,
        ledger=audit_ledger(),
        notifier=_notifier(),
        policy=config.policy,
        stage=config.stage,
    )


def reset() -> None:
    """Forget everything built so far (tests and local mode change the environment)."""
    for factory in (
        settings,
        rollback_queue,
        audit_ledger,
        registry_for,
        rollback_service,
        _previous_secret_versions,
    ):
        factory.cache_clear()
    from prompt_rollback import slack_wiring

    slack_wiring.reset()
    parameters.clear_caches()  # type: ignore[no-untyped-call]
