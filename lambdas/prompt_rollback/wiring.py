"""Composition root: the settings, the adapters and the rollback service, built on first use.

Nothing connects at import, so a cold start only pays for what the invocation needs and tests
can point the environment at moto first. Adapters are imported where they are built: the
webhook never loads the worker's (requests for Slack, httpx for Langfuse, the Bedrock clients).

Secrets are read through Powertools parameters with `max_age=SECRET_CACHE_SECONDS`, on every
use: a rotated value is in use within that time. The clients built from a secret are kept per
value (`functools.lru_cache` keyed by it), so an unchanged secret reuses its client and a new
one gets a new client. `reset()` forgets everything.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.config import Config

from prompt_rollback.domain.sources.grafana import GrafanaSigning
from prompt_rollback.errors import ConfigurationError
from prompt_rollback.settings import Settings

if TYPE_CHECKING:  # imported where they are built (see the module docstring)
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    from prompt_rollback.adapters.audit_store import DynamoDBAuditLedger
    from prompt_rollback.adapters.bedrock_registry import BedrockRegistry
    from prompt_rollback.adapters.chain_anchor import AnchoredLedger
    from prompt_rollback.adapters.langfuse_registry import LangfuseRegistry
    from prompt_rollback.adapters.rollback_queue import SqsRollbackQueue
    from prompt_rollback.changes.monitor_intake import MonitorAlertIntake
    from prompt_rollback.changes.recorder import ChangeRecorder
    from prompt_rollback.domain.langfuse_events import PromptVersionEvent
    from prompt_rollback.domain.langfuse_monitors import MonitorAlertEvent
    from prompt_rollback.domain.requests import RollbackRequest
    from prompt_rollback.ports import Notifier, PromptRegistry
    from prompt_rollback.rollback.service import RollbackService

# botocore's standard retry mode: exponential backoff with jitter on throttling and 5xx.
# `max_attempts` counts retries, so a call makes at most 6 requests before its error reaches us.
AWS_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=3,
    read_timeout=10,
)
SECRET_CACHE_SECONDS = 300
# What a manual request must repeat to reuse its request_id: anything else is a different
# rollback, and Powertools refuses it (IdempotencyValidationError) instead of replaying.
MANUAL_PAYLOAD_FIELDS = (
    "[provider, prompt_name, alerted_version, rollback_to, actor, reason, dry_run, provider_target]"
)


@cache
def settings() -> Settings:
    return Settings.from_environment(os.environ)


def aws_client(service: str) -> Any:
    return boto3.client(service, config=AWS_CLIENT_CONFIG)  # type: ignore[call-overload]


# ---- webhook ---------------------------------------------------------------------------------
def webhook_token() -> str:
    """The Bearer token Alertmanager must present (cached, so a rotation takes effect within minutes).

    Stripped like the presented one: a secret written with a trailing newline still matches."""
    name = settings().require("WEBHOOK_TOKEN_SECRET_NAME")
    return str(parameters.get_secret(name, max_age=SECRET_CACHE_SECONDS)).strip()


@dataclass
class _Remembered:
    value: str | None
    until: float


_previous_token: dict[str, _Remembered] = {}


@cache
def _previous_secret_versions() -> parameters.SecretsProvider:
    # A provider of its own: Powertools caches by secret name only, not by version stage.
    return parameters.SecretsProvider(boto_config=AWS_CLIENT_CONFIG)


def previous_webhook_token(clock: Callable[[], float] = time.monotonic) -> str | None:
    """The token before the last rotation (AWSPREVIOUS), so Alertmanagers still holding it keep
    working until their config is updated; None when the secret was never rotated.

    Remembered for SECRET_CACHE_SECONDS either way: Powertools caches values, not "there is no
    previous version", and a flood of wrong tokens must not become a flood of GetSecretValue calls.
    """
    name = settings().require("WEBHOOK_TOKEN_SECRET_NAME")
    remembered = _previous_token.get(name)
    if remembered is not None and clock() < remembered.until:
        return remembered.value
    try:
        fetched = _previous_secret_versions().get(name, max_age=0, VersionStage="AWSPREVIOUS")
        value: str | None = str(fetched).strip() if fetched else None
    except parameters.exceptions.GetParameterError:
        value = None
    _previous_token[name] = _Remembered(value, clock() + SECRET_CACHE_SECONDS)
    return value


def grafana_signing() -> GrafanaSigning | None:
    """Grafana's contact-point HMAC settings (docs/sources.md#grafana-alerting), or None when unset.

    GRAFANA_HMAC_SECRET_NAME names the secret; the two header names must match the contact point.
    """
    config = settings()
    if not config.grafana_hmac_secret_name:
        return None
    secret = str(parameters.get_secret(config.grafana_hmac_secret_name, max_age=SECRET_CACHE_SECONDS))
    return GrafanaSigning(
        # Stripped like the webhook token: a secret written with a trailing newline still matches.
        secret=secret.strip(),
        signature_header=config.grafana_signature_header,
        timestamp_header=config.grafana_timestamp_header,
    )


@cache
def rollback_queue() -> SqsRollbackQueue:
    from prompt_rollback.adapters.rollback_queue import SqsRollbackQueue

    return SqsRollbackQueue(aws_client("sqs"), settings().require("ROLLBACK_QUEUE_URL"))


# ---- worker ----------------------------------------------------------------------------------
@cache
def audit_ledger() -> DynamoDBAuditLedger | AnchoredLedger:
    from prompt_rollback.adapters.audit_store import DynamoDBAuditLedger

    table_name = settings().require("AUDIT_TABLE_NAME")
    ledger = DynamoDBAuditLedger(boto3.resource("dynamodb", config=AWS_CLIENT_CONFIG).Table(table_name))
    anchor_bucket = settings().anchor_bucket_name
    if not anchor_bucket:
        return ledger
    from prompt_rollback.adapters.chain_anchor import AnchoredLedger, S3ChainAnchors

    # Each new chain head also goes to the Object Lock bucket, out of the Lambdas' reach to rewrite.
    return AnchoredLedger(ledger, S3ChainAnchors(aws_client("s3"), anchor_bucket))


@dataclass(frozen=True)
class LangfuseCredentials:
    host: str
    public_key: str
    secret_key: str


def langfuse_credentials() -> LangfuseCredentials:
    """From the secret (LANGFUSE_SECRET_NAME, JSON) when set, else LANGFUSE_HOST/_PUBLIC_KEY/_SECRET_KEY."""
    config = settings()
    if config.langfuse_secret_name:
        secret: Any = parameters.get_secret(
            config.langfuse_secret_name, transform="json", max_age=SECRET_CACHE_SECONDS
        )
        try:
            return LangfuseCredentials(
                str(secret["host"]), str(secret["public_key"]), str(secret["secret_key"])
            )
        except (KeyError, TypeError) as error:
            raise ConfigurationError(
                "LANGFUSE_SECRET_NAME",
                f"names secret {config.langfuse_secret_name}, which must be JSON with host, public_key "
                "and secret_key",
            ) from error
    return LangfuseCredentials(
        config.langfuse_host,
        config.require("LANGFUSE_PUBLIC_KEY"),
        config.require("LANGFUSE_SECRET_KEY"),
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
        return _langfuse_registry(langfuse_credentials(), settings().langfuse_timeout_seconds)
    if provider == "bedrock":
        return _bedrock_registry()
    raise ConfigurationError("provider", f"{provider!r} has no registry adapter")


def slack_webhook_url() -> str:
    config = settings()
    if config.slack_webhook_secret_name:
        return str(parameters.get_secret(config.slack_webhook_secret_name, max_age=SECRET_CACHE_SECONDS))
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
    from prompt_rollback.slack import wiring as slack_wiring

    if slack_wiring.bot_token():  # Slack app mode: one message per incident, with buttons
        return slack_wiring.app_notifier()
    return _notifier_for(slack_webhook_url().strip(), settings().slack_channel)


def _usable_webhook_url(url: str) -> bool:
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    return bool(parts.netloc) and (parts.scheme == "https" or (parts.scheme == "http" and loopback))


def rollback_service() -> RollbackService:
    """The service over the adapters in force now (cheap: every part is built once and reused)."""
    from prompt_rollback.rollback.journal import Journal
    from prompt_rollback.rollback.service import RollbackService

    config = settings()
    return RollbackService(
        Journal(
            registries=registry_for,  # the module global, looked up per build: tests swap it
            ledger=audit_ledger(),
            notifier=notifier(),
            policy=config.rollback_policy,
            stage=config.stage,
        )
    )


@dataclass(frozen=True)
class ManualRollbacks:
    """Manual invocations through Powertools idempotency: a reused request_id replays its first
    answer, and a reused request_id with other parameters is refused."""

    config: IdempotencyConfig
    run: Callable[[RollbackRequest], dict[str, Any]]


def _mark_replayed(response: Any, idempotent_data: Any) -> Any:
    """A repeat answered from the idempotency record: nothing was decided now."""
    return {**response, "replayed": True}


@cache
def manual_rollbacks() -> ManualRollbacks:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    from prompt_rollback.rollback.attempts import MANUAL, run_attempt

    config = settings()
    persistence = DynamoDBPersistenceLayer(
        table_name=config.require("IDEMPOTENCY_TABLE_NAME"), boto_config=AWS_CLIENT_CONFIG
    )
    idempotency = IdempotencyConfig(
        event_key_jmespath="request_id",
        payload_validation_jmespath=MANUAL_PAYLOAD_FIELDS,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=config.idempotency_expiry_seconds,
        response_hook=_mark_replayed,
    )

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request", persistence_store=persistence, config=idempotency
    )
    def manual_rollback(*, request: RollbackRequest) -> dict[str, Any]:
        return run_attempt(rollback_service(), request, MANUAL).as_dict()

    return ManualRollbacks(idempotency, lambda request: dict(manual_rollback(request=request)))


# ---- change recorders (Langfuse webhooks, CloudTrail) -----------------------------------------
def langfuse_webhook_secrets() -> list[str]:
    """The secrets Langfuse may sign webhooks with: the current one and, during a rotation, the
    previous one (AWSPREVIOUS). LANGFUSE_WEBHOOK_SECRET (local mode) when no secret is named.

    Langfuse gives each automation its own secret, and the Prompt automation (changes) and the
    Alert automation (monitors) post to the same route: the secret may hold several, one a line.
    """
    config = settings()
    name = config.langfuse_webhook_secret_name
    if not name:
        return config.require("LANGFUSE_WEBHOOK_SECRET").split()
    current = str(parameters.get_secret(name, max_age=SECRET_CACHE_SECONDS)).split()
    try:
        previous = _previous_secret_versions().get(
            name, max_age=SECRET_CACHE_SECONDS, VersionStage="AWSPREVIOUS"
        )
    except parameters.exceptions.GetParameterError:
        previous = None
    extra = [s for s in str(previous).split() if s not in current] if previous else []
    return current + extra


@cache
def change_recorder() -> ChangeRecorder:
    """Records production changes made outside the worker. With Langfuse credentials configured it
    also asks Langfuse where production went when only the losing version's event has arrived."""
    from prompt_rollback.changes.recorder import ChangeRecorder
    from prompt_rollback.ports import PromptRef

    def production_now(prompt_name: str) -> int | None:
        return registry_for("langfuse").read_production(PromptRef(prompt_name))

    config = settings()
    has_langfuse = bool(config.langfuse_secret_name or config.langfuse_public_key)
    return ChangeRecorder(audit_ledger(), production_now if has_langfuse else None)


@cache
def monitor_alert_intake() -> MonitorAlertIntake:
    """Langfuse monitor alerts: the ledger's moves decide, the rollback queue takes the request."""
    from prompt_rollback.changes.monitor_intake import MonitorAlertIntake
    from prompt_rollback.ports import PromptRef

    def production_now(prompt_name: str) -> int | None:
        return registry_for("langfuse").read_production(PromptRef(prompt_name))

    config = settings()
    has_langfuse = bool(config.langfuse_secret_name or config.langfuse_public_key)
    return MonitorAlertIntake(audit_ledger(), rollback_queue(), production_now if has_langfuse else None)


# Long enough to absorb Langfuse's retries of one event (its job retries come within hours).
LANGFUSE_EVENT_MEMORY_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class LangfuseEventRecording:
    """Langfuse events through Powertools idempotency keyed on the event id: a replay (or a
    Langfuse retry of a delivered event) is answered with its first answer and records nothing."""

    config: IdempotencyConfig
    run: Callable[[PromptVersionEvent | MonitorAlertEvent], dict[str, Any]]


@cache
def langfuse_event_recording() -> LangfuseEventRecording:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(
        table_name=settings().require("IDEMPOTENCY_TABLE_NAME"), boto_config=AWS_CLIENT_CONFIG
    )
    idempotency = IdempotencyConfig(
        event_key_jmespath="id",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=LANGFUSE_EVENT_MEMORY_SECONDS,
        response_hook=_mark_replayed,
    )

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="event", persistence_store=persistence, config=idempotency
    )
    def record(*, event: Any) -> dict[str, Any]:  # a PromptVersionEvent or a MonitorAlertEvent
        from prompt_rollback.domain.langfuse_monitors import MonitorAlertEvent

        if isinstance(event, MonitorAlertEvent):
            alert = monitor_alert_intake().receive(event)
            return {
                "event_id": event.id,
                "type": event.type,
                "status": alert.status,
                "detail": alert.detail,
                "prompt_name": alert.prompt_name,
                "version": alert.version,
                "request_id": alert.request_id,
                "misconfigured": alert.misconfigured,
            }
        outcome = change_recorder().record_langfuse(event)
        return {"event_id": event.id, "status": outcome.status, "detail": outcome.detail, "seq": outcome.seq}

    return LangfuseEventRecording(idempotency, lambda event: dict(record(event=event)))


def own_role_arns() -> frozenset[str]:
    return frozenset(arn.strip() for arn in settings().own_role_arns.split(",") if arn.strip())


def parameter_value_at(name: str, version: int) -> str | None:
    """An SSM parameter's value at one version (CloudTrail logs PutParameter without the value)."""
    try:
        response = aws_client("ssm").get_parameter(Name=f"{name}:{version}")
    except Exception:  # deleted since, or not ours to read: the change is recorded without its version
        return None
    return str(response["Parameter"]["Value"])


def reset() -> None:
    """Forget everything built so far (tests and local mode change the environment)."""
    for factory in (
        settings,
        rollback_queue,
        audit_ledger,
        _langfuse_registry,
        _bedrock_registry,
        _notifier_for,
        manual_rollbacks,
        change_recorder,
        monitor_alert_intake,
        langfuse_event_recording,
        _previous_secret_versions,
    ):
        factory.cache_clear()
    _previous_token.clear()
    from prompt_rollback.slack import wiring as slack_wiring

    slack_wiring.reset()
    parameters.clear_caches()  # type: ignore[no-untyped-call]
