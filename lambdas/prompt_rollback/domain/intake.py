"""Which alerts of a webhook body become rollback requests, and why the others do not. Nothing
here raises for a well-formed body: Alertmanager retries a 5xx forever and drops a 4xx, so either
would lose the group's healthy alerts; an alert that cannot become a request is skipped instead."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pydantic import ValidationError

from prompt_rollback.domain.alertmanager import Alert, AlertmanagerWebhook
from prompt_rollback.domain.bedrock_targets import TARGET_LABELS, target_labels_problem
from prompt_rollback.domain.prompt_names import prompt_name_problem
from prompt_rollback.domain.requests import (
    MAX_NAME_LENGTH,
    MAX_REASON_LENGTH,
    MAX_URL_LENGTH,
    MAX_VERSION,
    SUPPORTED_PROVIDERS,
    RollbackRequest,
    Trigger,
    alert_request_id,
    cut,
    cut_labels,
    version_number,
)
from prompt_rollback.domain.resolutions import MAX_RESOLVED_PER_SIGNAL, ResolutionSignal, ResolvedAlert

PROVIDER_TARGET_LABEL_PREFIXES = ("bedrock_", "prompt_parameter")
# Kept first when an alert's labels must be cut: the ones that say what to roll back.
ESSENTIAL_LABELS = (
    "alertname",
    "prompt_name",
    "prompt_version",
    "provider",
    "rollback_to",
    "env",
    *TARGET_LABELS,
)
# SSM parameter names go up to 2048 characters; Bedrock ids are 10.
MAX_TARGET_VALUE_LENGTH = 2048


class SkipKind(StrEnum):
    """Why an alert was not queued, as a class a metric (and its alarm) can count."""

    # Resolved, or a duplicate in the same body: nothing to do.
    NOTHING_TO_DO = "nothing_to_do"
    # The alert rule's labels cannot name a rollback (missing or invalid prompt_name,
    # prompt_version, provider, target labels, rollback_to): it will never work until fixed.
    MISCONFIGURED = "misconfigured"


@dataclass(frozen=True)
class SkippedAlert:
    fingerprint: str
    alertname: str
    reason: str
    kind: SkipKind


RESOLVED_REASON = "resolved: nothing to roll back; queued as a recovery signal"


@dataclass(frozen=True)
class Intake:
    accepted: list[RollbackRequest]
    skipped: list[SkippedAlert]
    # Alerts Alertmanager left out of the body (`max_alerts`): never sent, so never rolled back.
    truncated_alerts: int = 0
    # Resolved alerts that may end a rollback's recovery window (they are also in `skipped`:
    # a resolution never rolls anything back).
    resolved: list[ResolutionSignal] = field(default_factory=list)

    @property
    def misconfigured(self) -> int:
        """Alerts skipped because their rule is misconfigured: worth an alarm, not just a log line."""
        return sum(1 for s in self.skipped if s.kind is SkipKind.MISCONFIGURED)


def _resolution_for(
    alert: Alert, received_at: datetime, source: str
) -> tuple[tuple[str, str], ResolvedAlert] | None:
    """A resolved alert that names a prompt we could have rolled back, keyed by its prompt."""
    labels = alert.labels
    prompt_name = labels.get("prompt_name", "")
    provider = labels.get("provider", "langfuse").strip().lower() or "langfuse"
    if not prompt_name or prompt_name_problem(prompt_name) or provider not in SUPPORTED_PROVIDERS:
        return None
    return (provider, prompt_name), ResolvedAlert(
        rollback_id=alert_request_id(provider, prompt_name, alert.fingerprint, alert.starts_at),
        alertname=cut(labels.get("alertname", ""), MAX_NAME_LENGTH),
        fingerprint=alert.fingerprint,
        starts_at=alert.starts_at,
        # Alertmanager sets endsAt of a resolved alert to when it resolved.
        resolved_at=alert.ends_at if alert.ends_at and alert.ends_at.year > 1 else received_at,
        source=source,
    )


def _signals(resolved: dict[tuple[str, str], list[ResolvedAlert]]) -> list[ResolutionSignal]:
    return [
        ResolutionSignal(
            provider=provider, prompt_name=prompt_name, alerts=alerts[start : start + MAX_RESOLVED_PER_SIGNAL]
        )
        for (provider, prompt_name), alerts in resolved.items()
        for start in range(0, len(alerts), MAX_RESOLVED_PER_SIGNAL)
    ]


def _version_or_problem(raw: str) -> int | str:
    number = version_number(raw)
    if number is not None:
        return number
    digits = raw.strip()
    if digits.isascii() and digits.isdigit() and digits.lstrip("0"):
        return f"must be a positive integer up to {MAX_VERSION}"
    return "must be a positive integer"


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
    alerted_version = _version_or_problem(raw_version)
    if isinstance(alerted_version, str):
        return f"invalid label: prompt_version {alerted_version}"
    provider = labels.get("provider", "langfuse").strip().lower() or "langfuse"
    if provider not in SUPPORTED_PROVIDERS:
        return f"unsupported provider (supported: {', '.join(SUPPORTED_PROVIDERS)})"
    target_problem = target_labels_problem(provider, labels)
    if target_problem:
        return target_problem
    raw_target = labels.get("rollback_to") or alert.annotations.get("rollback_to") or ""
    rollback_to = _version_or_problem(raw_target) if raw_target else None
    if isinstance(rollback_to, str):
        return f"invalid rollback_to: {rollback_to}"
    trigger = _trigger_of(alert, body)
    return RollbackRequest(
        request_id=alert_request_id(provider, prompt_name, alert.fingerprint, alert.starts_at),
        provider=provider,  # type: ignore[arg-type]  # checked against SUPPORTED_PROVIDERS above
        prompt_name=prompt_name,
        alerted_version=alerted_version,
        rollback_to=rollback_to,
        environment=cut(labels.get("env", ""), MAX_NAME_LENGTH),
        actor="alertmanager",
        reason=trigger.summary or trigger.alertname,
        trigger=trigger,
        received_at=received_at,
        provider_target=_provider_target(labels, trigger.labels),
    )


def _trigger_of(alert: Alert, body: AlertmanagerWebhook) -> Trigger:
    """The alert as a request carries it: every text cut to fit, the essential labels kept first."""
    labels = alert.labels
    kept_labels, labels_cut = cut_labels(dict(labels), first=ESSENTIAL_LABELS)
    return Trigger(
        alertname=cut(labels.get("alertname", ""), MAX_NAME_LENGTH),
        fingerprint=alert.fingerprint,
        group_key=cut(body.group_key, MAX_URL_LENGTH),
        starts_at=alert.starts_at,
        labels=kept_labels,
        labels_cut=labels_cut,
        summary=cut(
            alert.annotations.get("summary", "") or alert.annotations.get("description", ""),
            MAX_REASON_LENGTH,
        ),
        generator_url=cut(alert.generator_url, MAX_URL_LENGTH),
        runbook_url=cut(alert.annotations.get("runbook_url", ""), MAX_URL_LENGTH),
        external_url=cut(body.external_url, MAX_URL_LENGTH),
    )


def _provider_target(labels: Mapping[str, str], kept_labels: Mapping[str, str]) -> dict[str, str]:
    """The pointer's own labels travel whole (target_labels_problem checked them); other
    bedrock_* labels only as far as they survived the cut."""
    return {name: cut(labels[name], MAX_TARGET_VALUE_LENGTH) for name in TARGET_LABELS if name in labels} | {
        name: value
        for name, value in kept_labels.items()
        if name.startswith(PROVIDER_TARGET_LABEL_PREFIXES) and name not in TARGET_LABELS
    }


def _request_or_reason(
    alert: Alert, body: AlertmanagerWebhook, received_at: datetime
) -> RollbackRequest | str:
    try:
        return _request_for(alert, body, received_at)
    except ValidationError as error:
        # Not expected (everything above is cut to fit), but one odd alert must not cost the
        # whole body: skip it, saying which field, never echoing its value.
        fields = ", ".join(sorted({".".join(str(p) for p in e["loc"]) or "request" for e in error.errors()}))
        return f"could not build a rollback request ({fields} out of bounds)"


def triage(body: AlertmanagerWebhook, received_at: datetime, source: str = "alertmanager") -> Intake:
    """Split a webhook body into rollback requests and skipped alerts (each with its reason);
    `source` names who sent it on the recovery signals."""
    accepted: list[RollbackRequest] = []
    skipped: list[SkippedAlert] = []
    resolved: dict[tuple[str, str], list[ResolvedAlert]] = {}
    seen: set[str] = set()
    for alert in body.alerts:
        alertname = cut(alert.labels.get("alertname", ""), MAX_NAME_LENGTH)
        if alert.status == "resolved":
            skipped.append(
                SkippedAlert(alert.fingerprint, alertname, RESOLVED_REASON, SkipKind.NOTHING_TO_DO)
            )
            found = _resolution_for(alert, received_at, source)
            if found is not None and found[1].rollback_id not in seen:
                seen.add(found[1].rollback_id)
                resolved.setdefault(found[0], []).append(found[1])
            continue
        outcome = _request_or_reason(alert, body, received_at)
        if isinstance(outcome, str):
            skipped.append(SkippedAlert(alert.fingerprint, alertname, outcome, SkipKind.MISCONFIGURED))
        elif outcome.request_id in seen:
            skipped.append(
                SkippedAlert(
                    alert.fingerprint, alertname, "duplicate alert in the same body", SkipKind.NOTHING_TO_DO
                )
            )
        else:
            seen.add(outcome.request_id)
            accepted.append(outcome)
    return Intake(
        accepted=accepted,
        skipped=skipped,
        truncated_alerts=body.truncated_alerts,
        resolved=_signals(resolved),
    )
