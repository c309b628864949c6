"""The functions' environment, validated once: every setting, its variable and its limits.

A wrong value is a `ConfigurationError` that names the variable (`MAX_RECEIVE_COUNT must be …`),
raised before anything is read from or written to AWS. Settings only one function needs (the
queue URL for the webhook, the idempotency table for the worker) are optional here and
required by `require()` where they are used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, Json, SecretStr, ValidationError, field_validator

from prompt_rollback.domain.policy_config import PolicyConfig
from prompt_rollback.errors import ConfigurationError

DEFAULT_LANGFUSE_HOST = "https://cloud.langfuse.com"
# A channel name (#llm-ops, llm-ops) or a channel id (C0123456789): what infra/config.py accepts.
_SLACK_CHANNEL = re.compile(r"^(#?[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{8,20})$")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    stage: str = Field(default="", alias="STAGE", max_length=40)
    rollback_queue_url: str = Field(default="", alias="ROLLBACK_QUEUE_URL")
    audit_table_name: str = Field(default="", alias="AUDIT_TABLE_NAME")
    idempotency_table_name: str = Field(default="", alias="IDEMPOTENCY_TABLE_NAME")
    webhook_token_secret_name: str = Field(default="", alias="WEBHOOK_TOKEN_SECRET_NAME")
    langfuse_secret_name: str = Field(default="", alias="LANGFUSE_SECRET_NAME")
    slack_webhook_secret_name: str = Field(default="", alias="SLACK_WEBHOOK_SECRET_NAME")
    slack_channel: str = Field(default="", alias="SLACK_CHANNEL")
    max_receive_count: int = Field(default=5, ge=1, le=1000, alias="MAX_RECEIVE_COUNT")
    idempotency_expiry_seconds: int = Field(
        default=7 * 24 * 3600, ge=60, le=366 * 24 * 3600, alias="IDEMPOTENCY_EXPIRY_SECONDS"
    )
    rollback_policy: Json[PolicyConfig] = Field(default_factory=PolicyConfig, alias="ROLLBACK_POLICY")
    langfuse_timeout_seconds: float = Field(default=10.0, gt=0, le=60, alias="LANGFUSE_TIMEOUT_SECONDS")
    # Without LANGFUSE_SECRET_NAME (local mode, the CLI in-process): the keys themselves.
    langfuse_host: str = Field(default=DEFAULT_LANGFUSE_HOST, alias="LANGFUSE_HOST")
    langfuse_public_key: str = Field(default="", alias="LANGFUSE_PUBLIC_KEY")
    langfuse_secret_key: SecretStr = Field(default=SecretStr(""), alias="LANGFUSE_SECRET_KEY")
    # Without SLACK_WEBHOOK_SECRET_NAME (local mode): the URL itself, or nothing (console).
    slack_webhook_url: SecretStr = Field(default=SecretStr(""), alias="SLACK_WEBHOOK_URL")

    @field_validator("slack_channel")
    @classmethod
    def _channel_name_or_id(cls, value: str) -> str:
        if value and not _SLACK_CHANNEL.match(value):
            raise ValueError("must be a Slack channel name (#llm-ops) or id (C0123456789)")
        return value

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        aliases = {field.alias for field in cls.model_fields.values() if field.alias}
        # An empty variable means "not set", as it does for the CDK app and for shells.
        present = {name: environ[name] for name in aliases if environ.get(name, "").strip()}
        try:
            return cls.model_validate(present)
        except ValidationError as error:
            first = error.errors(include_url=False, include_input=False)[0]
            variable = str(first["loc"][0]) if first["loc"] else "environment"
            raise ConfigurationError(variable, f"is invalid: {first['msg']}") from error

    def require(self, variable: str) -> str:
        """The value of a setting this code path cannot do without, by its variable's name."""
        for name, field in type(self).model_fields.items():
            if field.alias == variable:
                value = getattr(self, name)
                text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
                if not text:
                    raise ConfigurationError(variable, "is not set")
                return text
        raise KeyError(variable)
