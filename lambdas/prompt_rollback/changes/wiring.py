"""Composition of change recording: Langfuse webhook secrets, the change recorder, monitor-alert
intake, event recording answered once per event id, and what the CloudTrail recorder reads."""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from typing import Any

from pydantic import Field, Json

from prompt_rollback import wiring
from prompt_rollback.changes.canary_label import CanaryLabelStarts
from prompt_rollback.changes.monitor_intake import MonitorAlertIntake
from prompt_rollback.changes.recorder import ChangeRecorder, ProductionReader
from prompt_rollback.domain.langfuse_events import PromptVersionEvent
from prompt_rollback.domain.langfuse_monitors import MonitorAlertEvent
from prompt_rollback.domain.rollout_plan import RolloutPlans
from prompt_rollback.errors import ConfigurationError
from prompt_rollback.http_api.idempotency import AnsweredOnce, answered_once
from prompt_rollback.ports import PromptRef
from prompt_rollback.settings import (
    EnvironmentModel,
    LangfuseSettings,
    LangfuseWebhookSettings,
    OwnRoleSettings,
)

# Long enough to absorb Langfuse's retries of one event (its job retries come within hours).
LANGFUSE_EVENT_MEMORY_SECONDS = 7 * 24 * 3600
LangfuseEvent = PromptVersionEvent | MonitorAlertEvent


class CanaryLabelSettings(EnvironmentModel):
    """The worker's ROLLOUT_PLANS: which prompts start a rollout on the canary label, and their plan."""

    rollout_plans: Json[RolloutPlans] = Field(default_factory=RolloutPlans, alias="ROLLOUT_PLANS")


def langfuse_webhook_secrets() -> list[str]:
    """The secrets Langfuse may sign webhooks with: the current one and, during a rotation, the
    previous one (AWSPREVIOUS). LANGFUSE_WEBHOOK_SECRET (local mode) when no secret is named.

    Langfuse gives each automation its own secret, and the Prompt automation (changes) and the
    Alert automation (monitors) post to the same route: the secret may hold several, one a line.
    """
    config = wiring.environment(LangfuseWebhookSettings)
    name = config.langfuse_webhook_secret_name
    if not name:
        secrets = config.langfuse_webhook_secret.get_secret_value().split()
        if not secrets:
            raise ConfigurationError("LANGFUSE_WEBHOOK_SECRET", "is not set")
        return secrets
    current = wiring.secret(name).split()
    previous = wiring.previous_secret(name)
    extra = [s for s in previous.split() if s not in current] if previous else []
    return current + extra


def _production_now(prompt_name: str) -> int | None:
    # Through the module: tests serve a provider with an adapter of their own.
    return wiring.registry_for("langfuse").read_production(PromptRef(prompt_name))


def _production_reader() -> ProductionReader | None:
    """Langfuse's production, where Langfuse credentials are configured."""
    return _production_now if wiring.environment(LangfuseSettings).has_credentials else None


@cache
def change_recorder() -> ChangeRecorder:
    """Records production changes made outside the worker. With Langfuse credentials configured it
    also asks Langfuse where production went when only the losing version's event has arrived."""
    return ChangeRecorder(wiring.audit_ledger(), _production_reader())


@cache
def monitor_alert_intake() -> MonitorAlertIntake:
    """Langfuse monitor alerts: the ledger's moves decide, the rollback queue takes the request."""
    return MonitorAlertIntake(wiring.audit_ledger(), wiring.rollback_queue(), _production_reader())


def _record(event: LangfuseEvent) -> dict[str, Any]:
    if isinstance(event, MonitorAlertEvent):
        alert = monitor_alert_intake().receive(event)
        return {"event_id": event.id, "type": event.type, **asdict(alert)}
    outcome = change_recorder().record_langfuse(event)
    rollout = canary_label_starts().consider(event)
    return {
        "event_id": event.id,
        "status": outcome.status,
        "detail": outcome.detail,
        "seq": outcome.seq,
        "rollout": rollout,
    }


@cache
def canary_label_starts() -> CanaryLabelStarts:
    plans = wiring.environment(CanaryLabelSettings).rollout_plans
    return CanaryLabelStarts(plans, lambda start: wiring.rollback_queue().enqueue_rollout_start(start))


@cache
def langfuse_event_recording() -> AnsweredOnce[LangfuseEvent]:
    """Langfuse events keyed on the event id: a replay (or a Langfuse retry of a delivered event)
    is answered with its first answer and records nothing."""
    return answered_once(
        _record,
        name="langfuse-event",
        key="id",
        expires_after_seconds=LANGFUSE_EVENT_MEMORY_SECONDS,
    )


def own_role_arns() -> frozenset[str]:
    """The roles whose calls are our own rollbacks (the worker's), comma-separated in OWN_ROLE_ARNS."""
    return wiring.environment(OwnRoleSettings).arns


def parameter_value_at(name: str, version: int) -> str | None:
    """An SSM parameter's value at one version (CloudTrail logs PutParameter without the value)."""
    try:
        response = wiring.aws_client("ssm").get_parameter(Name=f"{name}:{version}")
    except Exception:  # deleted since, or not ours to read: the change is recorded without its version
        return None
    return str(response["Parameter"]["Value"])


def _forget() -> None:
    for factory in (change_recorder, monitor_alert_intake, langfuse_event_recording, canary_label_starts):
        factory.cache_clear()


wiring.on_reset(_forget)
