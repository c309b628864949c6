"""Shared composition: the environment, AWS clients and adapters every function builds on, built
on first use (nothing connects at import). Features compose their services in their own
`wiring.py` and register their caches with `on_reset`, so this module imports no feature."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.config import Config

from prompt_rollback.errors import ConfigurationError
from prompt_rollback.settings import (
    EnvironmentModel,
    LangfuseSettings,
    LedgerSettings,
    PagerDutySettings,
    QueueSettings,
    SlackSettings,
    WorkerEnvironment,
)

if TYPE_CHECKING:  # imported where they are built: a function loads only the adapters it uses
    from langfuse.api.client import LangfuseAPI

    from prompt_rollback.adapters.audit_store import DynamoDBAuditLedger
    from prompt_rollback.adapters.bedrock_registry import BedrockRegistry
    from prompt_rollback.adapters.langfuse_registry import LangfuseRegistry
    from prompt_rollback.adapters.one_shot_schedule import OneShotQueueSchedules
    from prompt_rollback.adapters.rollback_index import DynamoDBRollbackIndex
    from prompt_rollback.adapters.rollback_queue import SqsRollbackQueue
    from prompt_rollback.adapters.slack_app import SlackAppNotifier
    from prompt_rollback.ports import Notifier, Pager, PromptRegistry

# botocore's standard retry mode: exponential backoff with jitter on throttling and 5xx.
# `max_attempts` counts retries, so a call makes at most 6 requests before its error reaches us.
AWS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=10,
)
# Secrets are read through Powertools parameters on every use and cached this long, so a rotated
# value is in use within it; clients built from a secret are kept per value (lru_cache).
SECRET_CACHE_SECONDS = 300
# Placeholders the CDK app stores until someone puts the real values in (infra/secrets.py).
PLACEHOLDER_PREFIX = "PLACEHOLDER"

Model = TypeVar("Model", bound=EnvironmentModel)
_environments: dict[type[EnvironmentModel], EnvironmentModel] = {}
_reset_hooks: list[Callable[[], None]] = []


def environment(model: type[Model]) -> Model:
    """`model` read from the environment once (until `reset()`); ConfigurationError names the variable."""
    if model not in _environments:
        _environments[model] = model.from_environment(os.environ)
    return _environments[model]  # type: ignore[return-value]  # stored under its own class


def settings() -> WorkerEnvironment:
    """The worker's environment (and the in-process CLI's)."""
    return environment(WorkerEnvironment)


def on_reset(forget: Callable[[], None]) -> None:
    """Have `reset()` also forget what a feature's wiring built."""
    _reset_hooks.append(forget)


def aws_client(service: str) -> Any:
    return boto3.client(service, config=AWS_CLIENT_CONFIG)  # type: ignore[call-overload]


@cache
def _secrets() -> parameters.SecretsProvider:
    # Powertools' default provider (`get_secret`) starts a botocore session of its own, which
    # loads the endpoint data and service models again: about as long as a cold start's first
    # client takes. This one is that provider's client (no config of ours) on the shared session.
    return parameters.SecretsProvider(boto3_client=boto3.client("secretsmanager"))


def secret(name: str) -> str:
    return str(_secrets().get(name, max_age=SECRET_CACHE_SECONDS))


@cache
def _previous_secret_versions() -> parameters.SecretsProvider:
    # A provider of its own: Powertools caches by secret name only, not by version stage.
    return parameters.SecretsProvider(boto3_client=aws_client("secretsmanager"))


def previous_secret(name: str, max_age: int = SECRET_CACHE_SECONDS) -> str | None:
    """The value before the last rotation (AWSPREVIOUS), or None when the secret was never rotated."""
    try:
        fetched = _previous_secret_versions().get(name, max_age=max_age, VersionStage="AWSPREVIOUS")
    except parameters.exceptions.GetParameterError:
        return None
    return str(fetched) if fetched else None


def secret_or_variable(secret_variable: str, value_variable: str) -> str:
    """From the secret named by `secret_variable` when set, else `value_variable` itself (local
    mode); "" while it still holds the CDK app's placeholder."""
    secret_name = os.environ.get(secret_variable, "")
    value = secret(secret_name) if secret_name else os.environ.get(value_variable, "")
    value = value.strip()
    return "" if value.startswith(PLACEHOLDER_PREFIX) else value


@cache
def rollback_queue() -> SqsRollbackQueue:
    from prompt_rollback.adapters.rollback_queue import SqsRollbackQueue

    return SqsRollbackQueue(aws_client("sqs"), environment(QueueSettings).rollback_queue_url)


@cache
def audit_ledger() -> DynamoDBAuditLedger:
    """The plain ledger: chain heads are anchored off the hot path, by the ledger stream's consumer
    under its own role (anchors/), which the ledger writers cannot impersonate."""
    from prompt_rollback.adapters.audit_store import DynamoDBAuditLedger

    table_name = environment(LedgerSettings).audit_table_name
    return DynamoDBAuditLedger(boto3.resource("dynamodb", config=AWS_CLIENT_CONFIG).Table(table_name))


@cache
def rollback_index() -> DynamoDBRollbackIndex:
    from prompt_rollback.adapters.rollback_index import DynamoDBRollbackIndex

    table_name = environment(LedgerSettings).audit_table_name
    return DynamoDBRollbackIndex(boto3.resource("dynamodb", config=AWS_CLIENT_CONFIG).Table(table_name))


@dataclass(frozen=True)
class LangfuseCredentials:
    host: str
    public_key: str
    secret_key: str


def langfuse_credentials() -> LangfuseCredentials:
    """From the secret (LANGFUSE_SECRET_NAME, JSON) when set, else LANGFUSE_HOST/_PUBLIC_KEY/_SECRET_KEY."""
    config = environment(LangfuseSettings)
    if config.langfuse_secret_name:
        stored: Any = _secrets().get(
            config.langfuse_secret_name, transform="json", max_age=SECRET_CACHE_SECONDS
        )
        try:
            return LangfuseCredentials(
                str(stored["host"]), str(stored["public_key"]), str(stored["secret_key"])
            )
        except (KeyError, TypeError) as error:
            raise ConfigurationError(
                "LANGFUSE_SECRET_NAME",
                f"names secret {config.langfuse_secret_name}, which must be JSON with host, public_key "
                "and secret_key",
            ) from error
    if not config.langfuse_public_key:
        raise ConfigurationError("LANGFUSE_PUBLIC_KEY", "is not set")
    if not config.langfuse_secret_key.get_secret_value():
        raise ConfigurationError("LANGFUSE_SECRET_KEY", "is not set")
    return LangfuseCredentials(
        config.langfuse_host, config.langfuse_public_key, config.langfuse_secret_key.get_secret_value()
    )


def langfuse_metrics_api(sdk_name: str) -> LangfuseAPI:
    """Langfuse's REST client for metrics reads, with the credentials and LANGFUSE_TIMEOUT_SECONDS
    in force; `sdk_name` tells Langfuse which of our functions is asking."""
    from prompt_rollback.measurements.client import langfuse_api

    credentials = langfuse_credentials()
    return langfuse_api(
        credentials.host,
        credentials.public_key,
        credentials.secret_key,
        sdk_name=sdk_name,
        timeout_seconds=environment(LangfuseSettings).langfuse_timeout_seconds,
    )


@lru_cache(maxsize=2)  # the current credentials and, during a rotation, the ones before
def _langfuse_registry(credentials: LangfuseCredentials, timeout_seconds: float) -> LangfuseRegistry:
    from prompt_rollback.adapters.langfuse_registry import LangfuseRegistry

    return LangfuseRegistry(
        credentials.host, credentials.public_key, credentials.secret_key, timeout_seconds=timeout_seconds
    )


@cache
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


def registry_for(provider: str) -> PromptRegistry:
    """The registry adapter of a provider, with the credentials in force now."""
    if provider == "langfuse":
        timeout = environment(LangfuseSettings).langfuse_timeout_seconds
        return _langfuse_registry(langfuse_credentials(), timeout)
    if provider == "bedrock":
        return _bedrock_registry()
    raise ConfigurationError("provider", f"{provider!r} has no registry adapter")


# ---- Slack: the app (bot token, one message per incident) or an incoming webhook ---------------
def bot_token() -> str:
    """The bot token, or "" when the app is not set up (the webhook notifier is used then)."""
    token = secret_or_variable("SLACK_BOT_TOKEN_SECRET_NAME", "SLACK_BOT_TOKEN")
    return token if token.startswith("xoxb-") else ""


def slack_api_base_url() -> str:
    from prompt_rollback.adapters.slack_app import SLACK_API_BASE_URL

    return os.environ.get("SLACK_API_BASE_URL", "").strip() or SLACK_API_BASE_URL


@cache
def app_notifier() -> SlackAppNotifier:
    from prompt_rollback.adapters.slack_app import SlackAppNotifier, web_client

    policy = settings().rollback_policy
    fallback = environment(SlackSettings).slack_channel
    return SlackAppNotifier(
        web_client(bot_token(), slack_api_base_url()),
        channel_for=lambda prompt_name: policy.oversight_for(prompt_name).channel or fallback,
    )


def slack_webhook_url() -> str:
    config = environment(SlackSettings)
    if config.slack_webhook_secret_name:
        return secret(config.slack_webhook_secret_name)
    return config.slack_webhook_url.get_secret_value()


@lru_cache(maxsize=2)
def _notifier_for(url: str, channel: str) -> Notifier:
    from prompt_rollback.adapters.slack import ConsoleNotifier, SlackWebhookNotifier

    if not url:
        return ConsoleNotifier(channel=channel)
    if not _usable_webhook_url(url):
        # The deployed secret starts out as a random placeholder until someone stores the real
        # URL: say so in the audit (and in SlackFailures) instead of posting to wherever it points.
        return ConsoleNotifier(status="not_configured", channel=channel)
    # An incoming webhook posts to the channel it was created for; SLACK_CHANNEL does not
    # redirect it (Slack ignores a channel in the payload of an app's webhook): docs/deploy.md.
    return SlackWebhookNotifier(url)


def notifier() -> Notifier:
    if bot_token():  # Slack app mode: one message per incident, with buttons
        return app_notifier()
    return _notifier_for(slack_webhook_url().strip(), environment(SlackSettings).slack_channel)


def _usable_webhook_url(url: str) -> bool:
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    return bool(parts.netloc) and (parts.scheme == "https" or (parts.scheme == "http" and loopback))


# ---- PagerDuty: incidents when a person is needed, change events when production moves -------
def pager() -> Pager:
    config = environment(PagerDutySettings)
    if config.pagerduty_routing_key_secret_name:
        key = secret(config.pagerduty_routing_key_secret_name).strip()
    else:
        key = config.pagerduty_routing_key.get_secret_value().strip()
    return _pager_for(key, config.pagerduty_events_url, config.pagerduty_ca_file)


@lru_cache(maxsize=2)
def _pager_for(routing_key: str, events_url: str, ca_file: str) -> Pager:
    from prompt_rollback.adapters.pagerduty import PagerDutyPager, UnconfiguredPager, usable_routing_key

    if not usable_routing_key(routing_key):
        return UnconfiguredPager()
    return PagerDutyPager(routing_key, events_url, ca_file=ca_file)


def one_shot_schedules() -> OneShotQueueSchedules | None:
    """Where the worker's timed messages wait (recovery checks, rollout ticks); None without a
    schedule group (local mode and tests drive them by hand). Features keep what they build on it."""
    group = os.environ.get("RECOVERY_SCHEDULE_GROUP", "").strip()
    if not group:
        return None
    from prompt_rollback.adapters.one_shot_schedule import OneShotQueueSchedules

    queue, role, parked = (
        _required(name)
        for name in ("ROLLBACK_QUEUE_ARN", "RECOVERY_SCHEDULER_ROLE_ARN", "RECOVERY_DEAD_LETTER_QUEUE_ARN")
    )
    return OneShotQueueSchedules(aws_client("scheduler"), group, queue, role, dead_letter_arn=parked)


def _required(variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ConfigurationError(variable, "is not set")
    return value


def reset() -> None:
    """Forget everything built so far (tests and local mode change the environment)."""
    _environments.clear()
    for factory in (
        rollback_queue,
        audit_ledger,
        rollback_index,
        app_notifier,
        _langfuse_registry,
        _bedrock_registry,
        _notifier_for,
        _pager_for,
        _secrets,
        _previous_secret_versions,
    ):
        factory.cache_clear()
    for forget in _reset_hooks:
        forget()
    parameters.clear_caches()  # type: ignore[no-untyped-call]
