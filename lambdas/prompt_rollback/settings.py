"""The functions' environment: shared parts (one per outside resource), and one model per function.
A wrong or missing value is a `ConfigurationError` naming the variable (`MAX_RECEIVE_COUNT is
invalid: …`, `AUDIT_TABLE_NAME is not set`), raised before anything touches AWS."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, Json, SecretStr, ValidationError, field_validator

from prompt_rollback.domain.policy_config import PolicyConfig
from prompt_rollback.domain.sources.grafana import DEFAULT_SIGNATURE_HEADER
from prompt_rollback.errors import ConfigurationError

DEFAULT_LANGFUSE_HOST = "https://cloud.langfuse.com"
# A channel name (#llm-ops, llm-ops) or a channel id (C0123456789): what infra/config.py accepts.
_SLACK_CHANNEL = re.compile(r"^(#?[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{8,20})$")


class EnvironmentModel(BaseModel):
    # Built on first use: each function reads one or two of the environments declared here.
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False, defer_build=True)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Self:
        aliases = {field.alias for field in cls.model_fields.values() if field.alias}
        # An empty variable means "not set", as it does for the CDK app and for shells.
        present = {name: environ[name] for name in aliases if environ.get(name, "").strip()}
        try:
            return cls.model_validate(present)
        except ValidationError as error:
            errors = error.errors(include_url=False, include_input=False)
            # A wrong value says more than a missing one: report it first.
            first = sorted(errors, key=lambda e: e["type"] == "missing")[0]
            variable = str(first["loc"][0]) if first["loc"] else "environment"
            if first["type"] == "missing":
                raise ConfigurationError(variable, "is not set") from error
            raise ConfigurationError(variable, f"is invalid: {first['msg']}") from error


# ---- shared parts ------------------------------------------------------------------------------
class StageSettings(EnvironmentModel):
    stage: str = Field(default="", alias="STAGE", max_length=40)


class QueueSettings(EnvironmentModel):
    rollback_queue_url: str = Field(alias="ROLLBACK_QUEUE_URL", min_length=1)


class LedgerSettings(EnvironmentModel):
    audit_table_name: str = Field(alias="AUDIT_TABLE_NAME", min_length=1)


class AnchorSettings(EnvironmentModel):
    # The Object Lock bucket that receives each chain head (adapters/chain_anchor.py).
    anchor_bucket_name: str = Field(alias="ANCHOR_BUCKET_NAME", min_length=1)


class IdempotencySettings(EnvironmentModel):
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=1)
    idempotency_expiry_seconds: int = Field(
        default=7 * 24 * 3600, ge=60, le=366 * 24 * 3600, alias="IDEMPOTENCY_EXPIRY_SECONDS"
    )


class LangfuseSettings(EnvironmentModel):
    langfuse_secret_name: str = Field(default="", alias="LANGFUSE_SECRET_NAME")
    langfuse_timeout_seconds: float = Field(default=10.0, gt=0, le=60, alias="LANGFUSE_TIMEOUT_SECONDS")
    # Without LANGFUSE_SECRET_NAME (local mode, the CLI in-process): the keys themselves.
    langfuse_host: str = Field(default=DEFAULT_LANGFUSE_HOST, alias="LANGFUSE_HOST")
    langfuse_public_key: str = Field(default="", alias="LANGFUSE_PUBLIC_KEY")
    langfuse_secret_key: SecretStr = Field(default=SecretStr(""), alias="LANGFUSE_SECRET_KEY")

    @property
    def has_credentials(self) -> bool:
        return bool(self.langfuse_secret_name or self.langfuse_public_key)


class PolicySettings(EnvironmentModel):
    rollback_policy: Json[PolicyConfig] = Field(default_factory=PolicyConfig, alias="ROLLBACK_POLICY")


class SlackSettings(EnvironmentModel):
    slack_channel: str = Field(default="", alias="SLACK_CHANNEL")
    slack_webhook_secret_name: str = Field(default="", alias="SLACK_WEBHOOK_SECRET_NAME")
    # Without SLACK_WEBHOOK_SECRET_NAME (local mode): the URL itself, or nothing (console).
    slack_webhook_url: SecretStr = Field(default=SecretStr(""), alias="SLACK_WEBHOOK_URL")

    @field_validator("slack_channel")
    @classmethod
    def _channel_name_or_id(cls, value: str) -> str:
        if value and not _SLACK_CHANNEL.match(value):
            raise ValueError("must be a Slack channel name (#llm-ops) or id (C0123456789)")
        return value


class PagerDutySettings(EnvironmentModel):
    # The routing key's secret, or (local mode) the key itself; neither: nothing is paged.
    pagerduty_routing_key_secret_name: str = Field(default="", alias="PAGERDUTY_ROUTING_KEY_SECRET_NAME")
    pagerduty_routing_key: SecretStr = Field(default=SecretStr(""), alias="PAGERDUTY_ROUTING_KEY")
    # Another service region (https://events.eu.pagerduty.com), or local mode's stand-in with the
    # CA file its certificate is issued by.
    pagerduty_events_url: str = Field(
        default="https://events.pagerduty.com", alias="PAGERDUTY_EVENTS_URL", pattern=r"^https://[^\s/]+/?$"
    )
    pagerduty_ca_file: str = Field(default="", alias="PAGERDUTY_CA_FILE")


class DeliverySettings(EnvironmentModel):
    max_receive_count: int = Field(default=5, ge=1, le=1000, alias="MAX_RECEIVE_COUNT")


class SlackActionsSenderSettings(EnvironmentModel):
    # The Slack actions function's role id (AROA…): the only SQS sender whose queued clicks the
    # worker acts on. Unset: no queued click is acted on.
    slack_actions_role_id: str = Field(default="", alias="SLACK_ACTIONS_ROLE_ID", max_length=128)


class AlertAuthSettings(EnvironmentModel):
    webhook_token_secret_name: str = Field(alias="WEBHOOK_TOKEN_SECRET_NAME", min_length=1)
    # Grafana's contact-point HMAC signing (docs/sources.md#grafana-alerting): off without a secret.
    grafana_hmac_secret_name: str = Field(default="", alias="GRAFANA_HMAC_SECRET_NAME")
    grafana_signature_header: str = Field(
        default=DEFAULT_SIGNATURE_HEADER, alias="GRAFANA_SIGNATURE_HEADER", pattern=r"^[A-Za-z0-9-]{1,64}$"
    )
    grafana_timestamp_header: str = Field(
        default="", alias="GRAFANA_TIMESTAMP_HEADER", pattern=r"^[A-Za-z0-9-]{0,64}$"
    )


class LangfuseWebhookSettings(EnvironmentModel):
    # The signing secret's name, or (local mode) the secret itself.
    langfuse_webhook_secret_name: str = Field(default="", alias="LANGFUSE_WEBHOOK_SECRET_NAME")
    langfuse_webhook_secret: SecretStr = Field(default=SecretStr(""), alias="LANGFUSE_WEBHOOK_SECRET")


class OwnRoleSettings(EnvironmentModel):
    # The roles whose Bedrock/SSM calls are our own rollbacks (the CloudTrail recorder), comma-separated.
    own_role_arns: str = Field(default="", alias="OWN_ROLE_ARNS")

    @property
    def arns(self) -> frozenset[str]:
        return frozenset(arn.strip() for arn in self.own_role_arns.split(",") if arn.strip())


# ---- one model per function ------------------------------------------------------------------
class WebhookEnvironment(StageSettings, AlertAuthSettings, QueueSettings):
    """POST /alerts."""


class AlertEventsEnvironment(StageSettings, QueueSettings):
    """AMP (SNS) and CloudWatch alarm events; the same queue as POST /alerts."""


class LangfuseEventsEnvironment(
    StageSettings, LedgerSettings, IdempotencySettings, LangfuseSettings, LangfuseWebhookSettings
):
    """POST /langfuse/events; ROLLBACK_QUEUE_URL only where monitor alerts may queue rollbacks."""


class CloudTrailEnvironment(StageSettings, LedgerSettings, OwnRoleSettings):
    """CloudTrail pointer changes from EventBridge."""


class AnchorsEnvironment(StageSettings, AnchorSettings):
    """The ledger stream's consumer, which anchors each new chain head."""


class SlackActionsEnvironment(StageSettings, QueueSettings, LedgerSettings, IdempotencySettings):
    """POST /slack/actions."""


class WatcherEnvironment(StageSettings, QueueSettings, LangfuseSettings):
    """The scheduled watcher (its state table and triggers are checked by watcher/wiring.py)."""


class WorkerEnvironment(
    StageSettings,
    LedgerSettings,
    IdempotencySettings,
    PolicySettings,
    DeliverySettings,
    LangfuseSettings,
    SlackSettings,
    PagerDutySettings,
    SlackActionsSenderSettings,
):
    """The rollback worker, and the CLI when it rolls back in-process."""
