"""Composition of the rollout controller: plans (ROLLOUT_PLANS), the registries, the arms' reader
(Langfuse metrics v2, or Prometheus with ROLLOUT_PROMETHEUS_URL), the tick scheduler, the clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from pydantic import Field, Json

from prompt_rollback import wiring
from prompt_rollback.domain.bedrock_rollout import rollout_target
from prompt_rollback.domain.rollout_plan import RolloutPlans, approves
from prompt_rollback.errors import ConfigurationError
from prompt_rollback.settings import EnvironmentModel, LangfuseSettings, StageSettings

if TYPE_CHECKING:
    from prompt_rollback.ports import ArmReader, RolloutRegistry, TickScheduler
    from prompt_rollback.rollout.service import RolloutService


class RolloutSettings(EnvironmentModel):
    rollout_plans: Json[RolloutPlans] = Field(default_factory=RolloutPlans, alias="ROLLOUT_PLANS")
    # Prometheus instead of Langfuse for the arms: the HTTP API's base URL and the queries (JSON).
    prometheus_url: str = Field(default="", alias="ROLLOUT_PROMETHEUS_URL")
    prometheus_queries: str = Field(default="", alias="ROLLOUT_PROMETHEUS_QUERIES")
    prometheus_sigv4_region: str = Field(default="", alias="ROLLOUT_PROMETHEUS_SIGV4_REGION")


def now() -> datetime:
    """The controller's clock; tests move it forward."""
    return datetime.now(UTC)


def registry_for(provider: str) -> RolloutRegistry:
    return cast("RolloutRegistry", wiring.registry_for(provider))


def check_target(provider: str, target: dict[str, str]) -> None:
    """Bedrock rollouts go through the SSM prompt pointer; agent and flow aliases cannot split."""
    if provider == "bedrock":
        rollout_target(target)


@cache
def arm_reader() -> ArmReader:
    config = wiring.environment(RolloutSettings)
    if config.prometheus_url:
        import boto3

        from prompt_rollback.adapters.prometheus_arms import PrometheusArmReader, PrometheusQueries

        try:
            queries = PrometheusQueries(**json.loads(config.prometheus_queries or "{}"))
        except (TypeError, ValueError) as error:
            raise ConfigurationError("ROLLOUT_PROMETHEUS_QUERIES", f"is invalid: {error}") from error
        region = config.prometheus_sigv4_region
        credentials: Any = boto3.Session().get_credentials() if region else None
        return PrometheusArmReader(config.prometheus_url, queries, region=region, credentials=credentials)
    from prompt_rollback.adapters.langfuse_arms import LangfuseArmReader

    credentials_ = wiring.langfuse_credentials()
    timeout = wiring.environment(LangfuseSettings).langfuse_timeout_seconds
    return LangfuseArmReader.connect(
        credentials_.host, credentials_.public_key, credentials_.secret_key, timeout
    )


@cache
def tick_scheduler() -> TickScheduler | None:
    """The worker's one-shot schedules, shared with the recovery checks; none: ticks are driven by hand."""
    schedules = wiring.one_shot_schedules()
    if schedules is None:
        return None
    from prompt_rollback.adapters.rollout_scheduler import EventBridgeTickScheduler

    return EventBridgeTickScheduler(schedules)


def is_approver(actor: str, approvers: tuple[str, ...]) -> bool:
    """Named, or in a named Slack user group (the Slack app's usergroups.users.list; without the app
    a group names nobody)."""
    members_of = wiring.app_notifier().members_of if wiring.bot_token() else _nobody
    return approves(actor, approvers, members_of)


def _nobody(_group: str) -> frozenset[str]:
    return frozenset()


def rollout_service() -> RolloutService:
    from prompt_rollback.rollout.service import RolloutService

    return RolloutService(
        registries=registry_for,
        arms=arm_reader(),
        ledger=wiring.audit_ledger(),
        scheduler=tick_scheduler(),
        plans=wiring.environment(RolloutSettings).rollout_plans,
        is_approver=is_approver,
        clock=now,
        check_target=check_target,
        # The Slack app (a bot token): one message per rollout; webhook-only Slack gets none.
        announcer=wiring.app_notifier() if wiring.bot_token() else None,
        stage=wiring.environment(StageSettings).stage,
    )


def _forget() -> None:
    arm_reader.cache_clear()
    tick_scheduler.cache_clear()


wiring.on_reset(_forget)
