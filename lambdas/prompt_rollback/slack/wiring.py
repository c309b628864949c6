"""Composition of the Slack interactions: the signing secret, the replay guard of POST
/slack/actions, the interaction service and the end-of-window checks it schedules.
The app notifier (bot token, channels) is adapter composition and lives in the shared wiring."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from prompt_rollback import wiring
from prompt_rollback.errors import ConfigurationError
from prompt_rollback.http_api.idempotency import AnsweredOnce, answered_once

if TYPE_CHECKING:
    from prompt_rollback.adapters.langfuse_version_errors import LangfuseVersionErrors
    from prompt_rollback.adapters.recovery_scheduler import EventBridgeRecoveryScheduler
    from prompt_rollback.domain.requests import RollbackRequest
    from prompt_rollback.slack.service import InteractionService, RunRollback

SIGNATURE_WINDOW_SECONDS = 5 * 60  # SignatureVerifier's window; replays are remembered a bit longer
REPLAY_MEMORY_SECONDS = 2 * SIGNATURE_WINDOW_SECONDS + 60


def signing_secret() -> str:
    """Verifies POST /slack/actions: SLACK_SIGNING_SECRET_NAME's secret, or SLACK_SIGNING_SECRET."""
    secret = wiring.secret_or_variable("SLACK_SIGNING_SECRET_NAME", "SLACK_SIGNING_SECRET")
    if not secret:
        raise ConfigurationError("SLACK_SIGNING_SECRET_NAME", "is not set (nor SLACK_SIGNING_SECRET)")
    return secret


def _admit(delivery: dict[str, str]) -> dict[str, Any]:
    return {"admitted": True}


@cache
def replay_guard() -> AnsweredOnce[dict[str, str]]:
    """Each signature is admitted once: the idempotency record (DynamoDB, conditional put)
    remembers it for longer than the verifier's window, so a replay inside it is `replayed`."""
    return answered_once(
        _admit,
        name="slack-signature",
        key="signature",
        expires_after_seconds=REPLAY_MEMORY_SECONDS,
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
        notifier=wiring.app_notifier(),
        policy=settings.rollback_policy,
        run_rollback=run_rollback,
        stage=settings.stage,
        clock=now,
        version_errors=version_errors,
        pager=wiring.pager(),
    )


@cache
def version_errors() -> LangfuseVersionErrors:
    """The production version's errors for a version-scoped recovery check, from Langfuse's metrics."""
    from prompt_rollback.adapters.langfuse_version_errors import LangfuseVersionErrors

    return LangfuseVersionErrors(wiring.langfuse_metrics_api(sdk_name="prompt-rollback"))


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
    schedules = wiring.one_shot_schedules()
    if schedules is None:
        return None  # local mode and tests without a scheduler: no timed check
    from prompt_rollback.adapters.recovery_scheduler import EventBridgeRecoveryScheduler

    return EventBridgeRecoveryScheduler(schedules)


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
    version_errors.cache_clear()
    replay_guard.cache_clear()


wiring.on_reset(reset)
