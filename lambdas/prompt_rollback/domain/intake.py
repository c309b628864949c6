"""Which alerts of a webhook body become rollback requests, and why the others do not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from prompt_rollback.domain.alertmanager import Alert, AlertmanagerWebhook
from prompt_rollback.domain.bedrock_targets import target_labels_problem
from prompt_rollback.domain.interactions import ResolutionSignal
from prompt_rollback.domain.prompt_names import prompt_name_problem
from prompt_rollback.domain.requests import (
    SUPPORTED_PROVIDERS,
    RollbackRequest,
    Trigger,
    alert_request_id,
)

PROVIDER_TARGET_LABEL_PREFIXES = ("bedrock_", "prompt_parameter")


@dataclass(frozen=True)
class SkippedAlert:
    fingerprint: str
    alertname: str
    reason: str


RESOLVED_REASON = "resolved: nothing to roll back; queued as a recovery signal"


@dataclass(frozen=True)
class Intake:
    accepted: list[RollbackRequest]
    skipped: list[SkippedAlert]
    # Resolved alerts that may end a rollback's recovery window (they are also in `skipped`:
    # a resolution never rolls anything back).
    resolved: list[ResolutionSignal] = field(default_factory=list)


def _resolution_for(alert: Alert, received_at: datetime) -> ResolutionSignal | None:
    """The recovery signal of a resolved alert that names a prompt we could have rolled back."""
    labels = alert.labels
    prompt_name = labels.get("prompt_name", "")
    provider = labels.get("provider", "langfuse").strip().lower() or "langfuse"
    if not prompt_name or prompt_name_problem(prompt_name) or provider not in SUPPORTED_PROVIDERS:
        return None
    return ResolutionSignal(
        rollback_id=alert_request_id(provider, prompt_name, alert.fingerprint, alert.starts_at),
        provider=provider,
        prompt_name=prompt_name,
        alertname=labels.get("alertname", "")[:200],
        fingerprint=alert.fingerprint,
        starts_at=alert.starts_at,
        # Alertmanager sets endsAt of a resolved alert to when it resolved.
        resolved_at=alert.ends_at if alert.ends_at and alert.ends_at.year > 1 else received_at,
    )


def _positive_int(value: str) -> int | None:
    stripped = value.strip()
    if not stripped.isascii() or not stripped.isdigit():
        return None
    number = int(stripped)
    return number if number >= 1 else None


def _request_for(alert: Alert, body: AlertmanagerWebhook, received_at: datetime) -> RollbackRequest | str:
    """A rollback request for one firing alert, or the reason there is none."""
    labels = alert.labels
    prompt_name = labels.get("prompt_name", "")
    if not prompt_name:
        return "missing label prompt_name"
    problem = prompt_name_problem(prompt_name)
    if problem:
        return f"invalid label: {problem}"
    raw_version = labels.get("prompt_version", "")
    if not raw_version:
        return "missing label prompt_version"
    alerted_version = _positive_int(raw_version)
    if alerted_version is None:
        return "invalid label: prompt_version must be a positive integer"
    provider = labels.get("provider", "langfuse").strip().lower() or "langfuse"
    if provider not in SUPPORTED_PROVIDERS:
        return f"unsupported provider (supported: {', '.join(SUPPORTED_PROVIDERS)})"
    target_problem = target_labels_problem(provider, labels)
    if target_problem:
        return target_problem
    raw_target = labels.get("rollback_to") or alert.annotations.get("rollback_to") or ""
    rollback_to = _positive_int(raw_target) if raw_target else None
    if raw_target and rollback_to is None:
        return "invalid rollback_to: must be a positive integer"
    trigger = Trigger(
        alertname=labels.get("alertname", ""),
        fingerprint=alert.fingerprint,
        group_key=body.group_key,
        starts_at=alert.starts_at,
        labels=dict(labels),
        summary=alert.annotations.get("summary", "") or alert.annotations.get("description", ""),
        generator_url=alert.generator_url,
        runbook_url=alert.annotations.get("runbook_url", ""),
        external_url=body.external_url,
    )
    return RollbackRequest(
        request_id=alert_request_id(provider, prompt_name, alert.fingerprint, alert.starts_at),
        provider=provider,  # type: ignore[arg-type]  # checked against SUPPORTED_PROVIDERS above
        prompt_name=prompt_name,
        alerted_version=alerted_version,
        rollback_to=rollback_to,
        environment=labels.get("env", ""),
        actor="alertmanager",
        reason=trigger.summary or trigger.alertname,
        trigger=trigger,
        received_at=received_at,
        provider_target={k: v for k, v in labels.items() if k.startswith(PROVIDER_TARGET_LABEL_PREFIXES)},
    )


def triage(body: AlertmanagerWebhook, received_at: datetime) -> Intake:
    """Split a webhook body into rollback requests and skipped alerts (each with its reason)."""
    accepted: list[RollbackRequest] = []
    skipped: list[SkippedAlert] = []
    resolved: list[ResolutionSignal] = []
    seen: set[str] = set()
    for alert in body.alerts:
        alertname = alert.labels.get("alertname", "")
        if alert.status == "resolved":
            skipped.append(SkippedAlert(alert.fingerprint, alertname, RESOLVED_REASON))
            signal = _resolution_for(alert, received_at)
            if signal is not None and signal.rollback_id not in seen:
                seen.add(signal.rollback_id)
                resolved.append(signal)
            continue
        outcome = _request_for(alert, body, received_at)
        if isinstance(outcome, str):
            skipped.append(SkippedAlert(alert.fingerprint, alertname, outcome))
        elif outcome.request_id in seen:
            skipped.append(SkippedAlert(alert.fingerprint, alertname, "duplicate alert in the same body"))
        else:
            seen.add(outcome.request_id)
            accepted.append(outcome)
    return Intake(accepted=accepted, skipped=skipped, resolved=resolved)
