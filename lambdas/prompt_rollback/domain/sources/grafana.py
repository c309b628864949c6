"""Grafana-managed alerting (Grafana Cloud included): the webhook contact point's body and signature.
Told apart from Alertmanager's body by its shape, not by User-Agent, and validated as strictly:
types and values, not lengths (intake cuts long texts, as for Alertmanager)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NamedTuple

from pydantic import Field
from pydantic_core import from_json

from prompt_rollback.domain.alertmanager import Alert, AlertGroup, AlertmanagerWebhook

DEFAULT_SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
# Grafana signs when it sends; five minutes allows for clock skew and its own retries' delay.
MAX_SIGNATURE_AGE_SECONDS = 300
_HEX_SHA256_LENGTH = 64


class GrafanaAlert(Alert):
    silence_url: str = Field(default="", alias="silenceURL")
    dashboard_url: str = Field(default="", alias="dashboardURL")
    panel_url: str = Field(default="", alias="panelURL")
    values: dict[str, float] | None = None
    value_string: str = Field(default="", alias="valueString")

    def as_alertmanager(self) -> Alert:
        return self.model_copy(
            update={
                # Grafana, like Alertmanager, sends Go's zero time for a firing alert.
                "ends_at": self.ends_at if self.ends_at and self.ends_at.year > 1 else None,
                # The rule's view, else the panel: where a person looks first.
                "generator_url": self.generator_url or self.panel_url or self.dashboard_url,
            }
        )


class GrafanaWebhook(AlertGroup):
    """Grafana's webhook body, version 1 (grafana/alerting receivers/webhook: webhookMessage)."""

    version: Literal["1"]
    org_id: int = Field(alias="orgId", ge=0)
    state: Literal["alerting", "ok"]
    title: str = Field(default="")
    message: str = ""
    group_key: str = Field(alias="groupKey")
    alerts: list[GrafanaAlert]
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)

    def as_alertmanager(self) -> AlertmanagerWebhook:
        """The same alerts as the Alertmanager body intake triages."""
        alerts = [alert.as_alertmanager() for alert in self.alerts]
        return self.as_webhook(self.group_key, alerts, self.truncated_alerts)


def is_grafana_shape(document: Any) -> bool:
    """Grafana's body: version "1" and an orgId, which Alertmanager's (version "4") never has."""
    return isinstance(document, dict) and document.get("version") == "1" and "orgId" in document


class ParsedBody(NamedTuple):
    source: Literal["alertmanager", "grafana"]
    body: AlertmanagerWebhook


def parse_alert_body(raw: str) -> ParsedBody:
    """An Alertmanager or a Grafana webhook body, told apart by shape.

    Raises pydantic's ValidationError as AlertmanagerWebhook.model_validate_json does (with
    `json_invalid` for text that is not JSON), so a caller answers both the same way.
    """
    try:  # pydantic's parser: bounded nesting, unlike json.loads (RecursionError)
        document = from_json(raw)
    except ValueError:
        AlertmanagerWebhook.model_validate_json(raw)  # raises the json_invalid error
        raise
    if is_grafana_shape(document):
        return ParsedBody("grafana", GrafanaWebhook.model_validate(document).as_alertmanager())
    return ParsedBody("alertmanager", AlertmanagerWebhook.model_validate(document))


# Grafana 12+ "HMAC Signature": hex(HMAC-SHA256(secret, body)) in the signature header; with a
# timestamp header configured it sends Unix seconds there and signs "{timestamp}:{body}" instead,
# and only then can a replay be refused. (Grafana's webhook notifier docs; grafana/alerting http/hmac.go.)
@dataclass(frozen=True)
class GrafanaSigning:
    """The contact point's HMAC settings, as configured on both sides."""

    secret: str
    signature_header: str = DEFAULT_SIGNATURE_HEADER
    timestamp_header: str = ""

    def problem(self, body: bytes, headers: Mapping[str, str], now: datetime) -> str | None:
        """Why this request is not signed by Grafana with our secret, or None if it is.

        `headers` must be looked up case-insensitively (HTTP header names are).
        """
        presented = (headers.get(self.signature_header) or "").strip().lower()
        if not presented:
            return f"missing {self.signature_header} header"
        if len(presented) != _HEX_SHA256_LENGTH:
            return "malformed Grafana signature"
        signed = body
        if self.timestamp_header:
            timestamp = (headers.get(self.timestamp_header) or "").strip()
            if not timestamp.isascii() or not timestamp.isdigit():
                return f"missing or malformed {self.timestamp_header} header"
            if abs(now.timestamp() - int(timestamp)) > MAX_SIGNATURE_AGE_SECONDS:
                return "Grafana signature expired (timestamp more than 5 minutes away)"
            signed = timestamp.encode() + b":" + body
        expected = hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(presented.encode(), expected.encode()):
            return "invalid Grafana signature"
        return None
