"""Composition of the Slack app pieces (bot token, signing secret, channels), built on first use.

Kept apart from wiring.py so the webhook-only deployment (no bot token) loads none of it.

Settings (each from Secrets Manager when its *_SECRET_NAME is set, else from the environment,
which is how local mode runs):
- SLACK_BOT_TOKEN_SECRET_NAME / SLACK_BOT_TOKEN: the app's `xoxb-` token; without it the
  incoming webhook keeps working as before;
- SLACK_SIGNING_SECRET_NAME / SLACK_SIGNING_SECRET: verifies POST /slack/actions;
- SLACK_CHANNEL: the default channel (the policy may choose one per prompt pattern);
- SLACK_API_BASE_URL: Slack's Web API (tests and local mode point it at a loopback server).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities import parameters

from prompt_rollback import wiring
from prompt_rollback.errors import ConfigurationError

if TYPE_CHECKING:
    from prompt_rollback.adapters.recovery_scheduler import EventBridgeRecoveryScheduler
    from prompt_rollback.adapters.rollback_index import DynamoDBRollbackIndex
    from prompt_rollback.adapters.slack_app import SlackAppNotifier
    from prompt_rollback.domain.requests import RollbackRequest
    from prompt_rollback.slack.service import InteractionService, RunRollback

# Placeholders the CDK app stores until someone puts the real values in (infra/secrets.py).
PLACEHOLDER_PREFIX = "PLACEHOLDER"


def _secret_or_env(secret_setting: str, env_setting: str) -> str:
    secret_name = os.environ.get(secret_setting, "")
    if secret_name:
        value = str(parameters.get_secret(secret_name, max_age=wiring.SECRET_CACHE_SECONDS) or "")
    else:
        value = os.environ.get(env_setting, "")
    value = value.strip()
    return "" if value.startswith(PLACEHOLDER_PREFIX) else value


def _required(variable: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ConfigurationError(variable, "is not set")
    return value


def bot_token() -> str:
    """The bot token, or "" when the app is not set up (the webhook notifier is used then)."""
    token = _secret_or_env("SLACK_BOT_TOKEN_SECRET_NAME", "SLACK_BOT_TOKEN")
    return token if token.startswith("xoxb-") else ""


def signing_secret() -> str:
    secret = _secret_or_env("SLACK_SIGNING_SECRET_NAME", "SLACK_SIGNING_SECRET")
    if not secret:
        raise ConfigurationError("SLACK_SIGNING_SECRET_NAME", "is not set (nor SLACK_SIGNING_SECRET)")
    return secret


def default_channel() -> str:
    return wiring.settings().slack_channel


def api_base_url() -> str:
    from prompt_rollback.adapters.slack_app import SLACK_API_BASE_URL

    return os.environ.get("SLACK_API_BASE_URL", "").strip() or SLACK_API_BASE_URL


@cache
def app_notifier() -> SlackAppNotifier:
    from prompt_rollback.adapters.slack_app import SlackAppNotifier, web_client

    policy = wiring.settings().rollback_policy
    fallback = default_channel()
    return SlackAppNotifier(
        web_client(bot_token(), api_base_url()),
        channel_for=lambda prompt_name: policy.oversight_for(prompt_name).channel or fallback,
    )


@cache
def rollback_index() -> DynamoDBRollbackIndex:
    import boto3

    from prompt_rollback.adapters.rollback_index import DynamoDBRollbackIndex

    table_name = wiring.settings().require("AUDIT_TABLE_NAME")
    return DynamoDBRollbackIndex(
        boto3.resource("dynamodb", config=wiring.AWS_CLIENT_CONFIG).Table(table_name)
    )


def now() -> datetime:
    """The interactions' clock (a proposal's expiry, a recovery window); tests move it forward."""
    return datetime.now(UTC)


def interaction_service(run_rollback: RunRollback) -> InteractionService:
    """Built per message: `run_rollback` carries that message's attempt count."""
    from prompt_rollback.slack.service import InteractionService

    settings = wiring.settings()
    return InteractionService(
        registries=wiring.registry_for,
        ledger=wiring.audit_ledger(),
        notifier=app_notifier(),
        policy=settings.rollback_policy,
        run_rollback=run_rollback,
        stage=settings.stage,
        clock=now,
    )


_PEOPLE_METRICS = {
    "approved": "RollbacksApproved",
    "undone": "RollbacksUndone",
    "rejected": "RollbacksRejected",
    "expired": "ProposalsExpired",
    "refused": "SlackActionsRefused",
    "recovered": "RollbacksRecovered",
    "recovery_overdue": "RecoveryOverdue",
}


def people_metric(outcome: str) -> str:
    return _PEOPLE_METRICS.get(outcome, "SlackActionsNoChange")


@cache
def _recovery_scheduler() -> EventBridgeRecoveryScheduler | None:
    from prompt_rollback.adapters.recovery_scheduler import EventBridgeRecoveryScheduler

    group = os.environ.get("RECOVERY_SCHEDULE_GROUP", "")
    if not group:
        return None  # local mode and tests without a scheduler: no timed check
    return EventBridgeRecoveryScheduler(
        wiring.aws_client("scheduler"),
        group,
        queue_arn=_required("ROLLBACK_QUEUE_ARN"),
        role_arn=_required("RECOVERY_SCHEDULER_ROLE_ARN"),
    )


def schedule_check(request: RollbackRequest, outcome: str) -> str:
    """Schedule the end-of-window check of a rollback (recovery) or a proposal (expiry)."""
    from prompt_rollback.domain.interactions import RecoveryCheck

    scheduler = _recovery_scheduler()
    if scheduler is None:
        return ""
    oversight = wiring.settings().rollback_policy.oversight_for(request.prompt_name)
    window = oversight.approval_expiry if outcome == "proposed" else oversight.recovery_window
    check = RecoveryCheck(
        rollback_id=request.request_id, provider=request.provider, prompt_name=request.prompt_name
    )
    return scheduler.schedule(check, now() + window)


def reset() -> None:
    _recovery_scheduler.cache_clear()
    app_notifier.cache_clear()
    rollback_index.cache_clear()
