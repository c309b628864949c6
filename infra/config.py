"""Deployment configuration: read from CDK context (cdk.json or `-c key=value`), checked at synth.
Every key is top-level so one value can be overridden on the command line; `-c` values arrive as
strings: lists and objects may then be JSON (`-c allowed_prompts='["support-*"]'`), lists also a,b."""

from __future__ import annotations

import json
import re
from ipaddress import IPv4Network
from typing import Annotated, Any
from urllib.parse import urlsplit

from aws_cdk import aws_logs as logs
from constructs import Node
from prompt_rollback.domain.bedrock_targets import (
    PARAMETER_NAME,
    RESERVED_PARAMETER_PREFIXES,
    RESOURCE_ID,
    RESOURCE_ID_TEXT,
    TEST_ALIAS_ID,
)
from prompt_rollback.domain.policy_config import (
    MAX_COOLDOWN_MINUTES,
    MAX_ROLLBACKS_PER_DAY,
    PolicyConfig,
    PromptOverrides,
)
from prompt_rollback.domain.rollout_plan import RolloutPlans
from prompt_rollback.watcher.config import WatcherConfig
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# The retentions CloudWatch Logs accepts, in days (CDK's enum names them, not their numbers).
CLOUDWATCH_RETENTION_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}
# Seven years (7 * 365 + 2 leap days): how long CloudTrail files are kept under Object Lock.
SEVEN_YEARS_IN_DAYS = 2557
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
NonEmptyPattern = Annotated[str, Field(min_length=1, max_length=200)]
BedrockAliasRef = Annotated[str, Field(pattern=rf"^{RESOURCE_ID_TEXT}/{RESOURCE_ID_TEXT}$")]
BedrockPromptId = Annotated[str, Field(pattern=RESOURCE_ID.pattern)]
SsmParameterName = Annotated[str, Field(pattern=PARAMETER_NAME.pattern)]
AMP_WORKSPACE_ARN = r"^arn:aws[a-z-]*:aps:[a-z0-9-]{1,20}:[0-9]{12}:workspace/ws-[0-9a-zA-Z-]{1,64}$"
HEADER_NAME = r"^[A-Za-z0-9-]{1,64}$"
IamRoleArn = Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")]


class RouteThrottle(BaseModel):
    """One route's own token bucket at API Gateway (requests per second, burst)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_limit: float = Field(gt=0, le=10_000)
    burst_limit: int = Field(ge=1, le=5_000)


# Per route, so junk on one route cannot use up another's quota. /alerts keeps the stage's old
# limits; Slack clicks and Langfuse events come one person or one change at a time.
DEFAULT_ROUTE_THROTTLES = {
    "alerts": RouteThrottle(rate_limit=10, burst_limit=20),
    "langfuse/events": RouteThrottle(rate_limit=5, burst_limit=10),
    "slack/actions": RouteThrottle(rate_limit=5, burst_limit=10),
}
ALARM_NAME_PREFIX = r"^[A-Za-z0-9_.:/+=@ -]{1,200}$"


def _empty_list(description: str) -> Any:
    """A list field that may be left out of the context."""
    return Field(default_factory=list, description=description)


class InvalidDeploymentConfig(ValueError):
    """The CDK context does not describe a deployable configuration."""


class DeploymentConfig(BaseModel):
    """One deployment (stage) of prompt-rollback. Field names are the CDK context keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str = Field(
        pattern=r"^[a-z][a-z0-9-]{0,19}$",
        description="Stage name: API Gateway stage, resource names, Slack and audit text.",
    )
    allowed_prompts: list[NonEmptyPattern] = Field(
        min_length=1, description="fnmatch patterns of the prompt names the worker may roll back."
    )
    prompt_overrides: dict[NonEmptyPattern, PromptOverrides] = Field(
        default_factory=dict,
        description="Per-prompt-pattern overrides of dry_run/cooldown_minutes/max_rollbacks_per_day.",
    )
    slack_channel: str = Field(
        pattern=r"^(#?[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{8,20})$",
        description="Slack channel name (#ops-llm) or channel id, shown in messages.",
    )
    dry_run: bool = Field(default=True, description="Decide and audit, but never change a prompt label.")
    alarm_email: str | None = Field(default=None, description="Address subscribed to the alarm topic.")
    cooldown_minutes: int = Field(default=30, ge=0, le=MAX_COOLDOWN_MINUTES)
    max_rollbacks_per_day: int = Field(default=3, ge=0, le=MAX_ROLLBACKS_PER_DAY)
    langfuse_host: str = Field(default="https://cloud.langfuse.com")
    langfuse_secret_name: str | None = Field(
        default=None, description="Use this existing secret instead of creating one."
    )
    slack_webhook_secret_name: str | None = Field(
        default=None, description="Use this existing secret instead of creating one."
    )
    api_throttle_rate_limit: float = Field(default=10, gt=0, le=10_000)
    api_throttle_burst_limit: int = Field(default=20, ge=1, le=5_000)
    api_route_throttles: dict[str, RouteThrottle] = Field(
        default_factory=dict,
        description='Per-route throttles, e.g. {"alerts": {"rate_limit": 20, "burst_limit": 40}}; '
        "routes left out keep their defaults.",
    )
    waf_enabled: bool = Field(
        default=False,
        description="Put a WAF web ACL (per-IP rate rule) in front of the API (~6 USD a month).",
    )
    waf_rate_limit_per_ip: int = Field(
        default=300,
        ge=100,
        le=2_000_000_000,
        description="Requests per IP in any 5 minutes before WAF blocks it.",
    )
    alerts_allowed_cidrs: list[IPv4Network] = _empty_list(
        "With waf_enabled: only these IPv4 CIDRs may call POST /alerts (empty: any)."
    )
    cloudwatch_alarm_name_prefix: str = Field(
        default="prompt-rollback-",
        pattern=ALARM_NAME_PREFIX,
        description="Only CloudWatch alarms whose names start with this roll prompts back.",
    )
    worker_max_concurrency: int = Field(default=5, ge=2, le=1_000)
    log_retention_days: int = Field(default=90)
    audit_log_retention_days: int = Field(default=SEVEN_YEARS_IN_DAYS, ge=1, le=36_500)
    trail_management_events: bool = Field(
        default=False,
        description=(
            "Also record the account's management events in this stack's trail (billed as a second "
            "copy when an organisation trail exists). Off: the trail keeps the ledger's data events."
        ),
    )
    create_api_gateway_cloudwatch_role: bool = Field(
        default=True,
        description="Set the region's API Gateway CloudWatch Logs role (needed once per account and region).",
    )
    bedrock_agent_aliases: list[BedrockAliasRef] = _empty_list(
        "AGENTID/ALIASID of each Bedrock agent alias the worker may roll back."
    )
    bedrock_flow_aliases: list[BedrockAliasRef] = _empty_list(
        "FLOWID/ALIASID of each Bedrock flow alias the worker may roll back."
    )
    prompt_parameters: list[SsmParameterName] = _empty_list(
        "SSM parameters holding a production prompt-version ARN that the worker may rewrite."
    )
    bedrock_prompt_ids: list[BedrockPromptId] = _empty_list(
        "Ids of the Bedrock prompts those parameters point at (the worker lists their versions)."
    )
    amp_workspace_arn: str | None = Field(
        default=None,
        pattern=AMP_WORKSPACE_ARN,
        description="Only this AMP workspace may publish to the AMP alert topic (else any in the account).",
    )
    grafana_hmac: bool = Field(
        default=False,
        description="Create a secret for Grafana's contact-point HMAC signing and verify it on POST /alerts.",
    )
    grafana_signature_header: str = Field(default="X-Grafana-Alerting-Signature", pattern=HEADER_NAME)
    grafana_timestamp_header: str = Field(
        default="X-Grafana-Alerting-Timestamp",
        pattern=r"^[A-Za-z0-9-]{0,64}$",
        description="Grafana's Timestamp Header setting; empty turns off the 5-minute replay window.",
    )

    queue_redrive_role_arns: list[IamRoleArn] = _empty_list(
        "Roles besides the producers' that may send to the rollback queue (who redrives its DLQ)."
    )

    watcher_enabled: bool = Field(
        default=False,
        description="Deploy the serverless watcher: Langfuse regressions caught without Prometheus.",
    )
    watcher_schedule_minutes: int = Field(
        default=5, ge=1, le=60, description="How often the watcher runs (EventBridge Scheduler rate)."
    )
    watcher_failed_runs_alarm: int = Field(
        default=3, ge=1, le=288, description="Alarm after this many watcher runs in a row without data."
    )
    watcher: WatcherConfig = Field(
        default_factory=WatcherConfig,
        description="Watcher trigger overrides, for every prompt and per prompt pattern (WATCHER_CONFIG).",
    )

    rollout_plans: RolloutPlans = Field(
        default_factory=RolloutPlans,
        description="Default rollout plans per prompt pattern (ROLLOUT_PLANS; docs/rollout.md, Plans).",
    )

    @field_validator(
        "allowed_prompts",
        "bedrock_agent_aliases",
        "bedrock_flow_aliases",
        "prompt_parameters",
        "bedrock_prompt_ids",
        "alerts_allowed_cidrs",
        "queue_redrive_role_arns",
        mode="before",
    )
    @classmethod
    def _list_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("api_route_throttles")
    @classmethod
    def _known_routes(cls, value: dict[str, RouteThrottle]) -> dict[str, RouteThrottle]:
        if unknown := sorted(set(value) - set(DEFAULT_ROUTE_THROTTLES)):
            raise ValueError(f"{unknown} are not routes; use {sorted(DEFAULT_ROUTE_THROTTLES)}")
        return value

    @model_validator(mode="after")
    def _live_rollbacks_need_the_amp_workspace(self) -> DeploymentConfig:
        # With dry_run=false any AMP workspace in the account could otherwise publish alerts that
        # move production.
        if not self.dry_run and not self.amp_workspace_arn:
            raise ValueError(
                "dry_run=false needs amp_workspace_arn: the only AMP workspace allowed to publish "
                "alerts to the AMP alert topic"
            )
        return self

    @field_validator("prompt_overrides", "watcher", "rollout_plans", "api_route_throttles", mode="before")
    @classmethod
    def _object_from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator(
        "alarm_email", "langfuse_secret_name", "slack_webhook_secret_name", "amp_workspace_arn", mode="before"
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("alarm_email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL_PATTERN.fullmatch(value):
            raise ValueError(f"{value!r} is not an email address")
        return value

    @field_validator("langfuse_host")
    @classmethod
    def _check_langfuse_host(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"{value!r} must be an https:// URL such as https://cloud.langfuse.com")
        return value.strip().rstrip("/")

    @field_validator("bedrock_agent_aliases", "bedrock_flow_aliases")
    @classmethod
    def _no_test_alias(cls, value: list[str]) -> list[str]:
        for reference in value:
            if reference.endswith(f"/{TEST_ALIAS_ID}"):
                raise ValueError(
                    f"{reference!r}: {TEST_ALIAS_ID} is the test alias, which always routes to DRAFT"
                )
        return value

    @field_validator("prompt_parameters")
    @classmethod
    def _check_parameter_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if "//" in name or name.lstrip("/").lower().startswith(RESERVED_PARAMETER_PREFIXES):
                raise ValueError(f"{name!r} is not a parameter name the worker accepts")
        return value

    @model_validator(mode="after")
    def _prompt_parameters_need_their_prompts(self) -> DeploymentConfig:
        if self.prompt_parameters and not self.bedrock_prompt_ids:
            raise ValueError(
                "prompt_parameters needs bedrock_prompt_ids: the ids of the prompts the parameters "
                "point at, whose versions the worker must be allowed to list"
            )
        return self

    @field_validator("log_retention_days")
    @classmethod
    def _check_retention(cls, value: int) -> int:
        if value not in CLOUDWATCH_RETENTION_DAYS:
            allowed = ", ".join(str(days) for days in sorted(CLOUDWATCH_RETENTION_DAYS))
            raise ValueError(f"{value} is not a CloudWatch Logs retention; use one of {allowed}")
        return value

    @classmethod
    def context_keys(cls) -> list[str]:
        return list(cls.model_fields)

    @classmethod
    def from_context(cls, node: Node) -> DeploymentConfig:
        """Validate the context of `node` (usually the App); raise one readable error for all problems."""
        raw = {key: node.try_get_context(key) for key in cls.context_keys()}
        given = {key: value for key, value in raw.items() if value is not None}
        try:
            return cls.model_validate(given)
        except ValidationError as error:
            raise InvalidDeploymentConfig(
                "invalid prompt-rollback deployment configuration "
                f"(CDK context in cdk.json or -c key=value):\n{error}"
            ) from error

    @property
    def route_throttles(self) -> dict[str, RouteThrottle]:
        return {**DEFAULT_ROUTE_THROTTLES, **self.api_route_throttles}

    @property
    def log_retention(self) -> logs.RetentionDays:
        return CLOUDWATCH_RETENTION_DAYS[self.log_retention_days]

    def rollback_policy(self) -> PolicyConfig:
        """The worker's ROLLBACK_POLICY, built and checked by the worker's own model."""
        return PolicyConfig(
            dry_run=self.dry_run,
            allowed_prompts=list(self.allowed_prompts),
            cooldown_minutes=self.cooldown_minutes,
            max_rollbacks_per_day=self.max_rollbacks_per_day,
            # Insertion order matters: the worker applies the first matching pattern.
            prompts=dict(self.prompt_overrides),
        )

    def rollback_policy_json(self) -> str:
        return self.rollback_policy().model_dump_json(exclude_none=True)

    def rollout_plans_json(self) -> str:
        """The worker's ROLLOUT_PLANS, already checked by the worker's own model."""
        return self.rollout_plans.model_dump_json()

    def watcher_config_json(self) -> str:
        """The watcher's WATCHER_CONFIG, already checked by the watcher's own model."""
        return self.watcher.model_dump_json(exclude_none=True)
