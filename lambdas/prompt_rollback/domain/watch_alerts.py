"""The watcher's signals as an Alertmanager webhook body, so they take the webhook's own intake.
A watcher rollback request is then the one a Prometheus alert with the same labels would make
(same validation, request id scheme and labels in Slack and the audit); resolved ones too."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from prompt_rollback.domain.alertmanager import ALERT_NAME, Alert, AlertmanagerWebhook
from prompt_rollback.domain.watch import Signal, SignalKind

SEVERITY = "critical"
WATCHER_RECEIVER = "prompt-rollback-watcher"
WATCHER_ACTOR = "watcher"


def alert_labels(signal: Signal) -> dict[str, str]:
    key = signal.key
    labels = {
        "alertname": ALERT_NAME,
        "prompt_name": key.prompt_name,
        "prompt_version": str(key.prompt_version),
        "provider": "langfuse",
        "trigger": key.trigger,
        "severity": SEVERITY,
        "source": WATCHER_RECEIVER,
    }
    if key.environment:
        labels["env"] = key.environment
    return labels


def as_alert(signal: Signal) -> Alert:
    summary = signal.summary or (
        f"{signal.key.prompt_name} v{signal.key.prompt_version}: {signal.key.trigger} regression"
    )
    return Alert.model_validate(
        {
            "status": signal.kind.value,
            "labels": alert_labels(signal),
            "annotations": {"summary": summary},
            "startsAt": signal.fired_at,
            "endsAt": signal.resolved_at if signal.kind is SignalKind.RESOLVED else None,
            "fingerprint": signal.fingerprint,
        }
    )


def as_webhook_body(signals: Sequence[Signal], now: datetime) -> AlertmanagerWebhook:
    """One body per prompt would mirror Alertmanager's grouping; the intake does not need it."""
    alerts = [as_alert(signal) for signal in signals]
    firing = any(alert.status == "firing" for alert in alerts)
    return AlertmanagerWebhook.model_validate(
        {
            "version": "4",
            "groupKey": f"{WATCHER_RECEIVER}:{now.isoformat()}",
            "status": "firing" if firing else "resolved",
            "receiver": WATCHER_RECEIVER,
            "alerts": alerts,
        }
    )
