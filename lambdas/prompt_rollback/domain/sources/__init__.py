"""Alert sources besides a self-run Alertmanager: AMP via SNS, CloudWatch alarms, Grafana.
Each pure module turns its source into an Alertmanager webhook body for `triage`, plus the
entries that could not become one, each with a reason a person can act on (docs/sources.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # settings imports grafana's default header: this package loads no intake for it
    from pydantic import ValidationError

    from prompt_rollback.domain.alertmanager import AlertmanagerWebhook
    from prompt_rollback.domain.intake import SkippedAlert

SourceName = Literal["alertmanager", "amp", "cloudwatch", "grafana"]

# Untrusted text quoted in a skip reason (an alarm name, AMP's "modified" attribute) is cut to this.
MAX_QUOTED_TEXT = 200


@dataclass(frozen=True)
class Converted:
    """What one delivery of a source holds: a body to triage (or none), and what was set aside."""

    source: SourceName
    body: AlertmanagerWebhook | None
    skipped: list[SkippedAlert] = field(default_factory=list)


def quoted(text: str, limit: int = MAX_QUOTED_TEXT) -> str:
    """Untrusted text fit to quote in a reason: one line, bounded."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def problem_locations(error: ValidationError) -> str:
    """Where a payload failed validation, never what it held (that would reflect untrusted text)."""
    locations = sorted({".".join(str(p) for p in e["loc"]) for e in error.errors(include_input=False)})
    return quoted(", ".join(locations))
