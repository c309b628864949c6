"""Langfuse Alerts (monitors): a `monitor-alert` webhook, and whether it may roll anything back.
Only the version that held production for the monitor's whole window may be rolled back
(docs/sources.md#langfuse-alerts). Pure: the caller passes the ledger's records and the registry's answer."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from prompt_rollback.domain.alertmanager import Alert, AlertmanagerWebhook
from prompt_rollback.domain.changes import ProductionNow, _Unknown
from prompt_rollback.domain.requests import cut
from prompt_rollback.domain.times import WireTime

MONITOR_ALERT_TYPE = "monitor-alert"
# Filter columns that name the prompt / its version (the observations view's column ids).
PROMPT_NAME_COLUMNS = frozenset({"promptName", "prompt_name"})
PROMPT_VERSION_COLUMNS = frozenset({"promptVersion", "prompt_version"})
EQUALITY_OPERATORS = frozenset({"=", "any of"})
FIRING_SEVERITY = "ALERT"
MAX_FILTERS = 100
_WINDOW = re.compile(r"^(\d{1,4})([mhdw])$")
_UNIT = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
# Longest window Langfuse offers is 1w; a bigger number of milliseconds is not a window of theirs.
MAX_WINDOW = timedelta(weeks=1)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class MonitorFilter(_Model):
    column: str = Field(max_length=200)
    type: str = Field(default="", max_length=100)
    operator: str = Field(default="", max_length=100)
    value: Any = None


class MonitorMessage(_Model):
    title: str = Field(default="", max_length=10_000)
    body: str = Field(default="", max_length=100_000)


# Langfuse's MonitorAlertSchema (langfuse/langfuse packages/shared/src/features/monitor/types.ts).
# `window` is "5m" ... "1w" in the newest server; earlier builds sent milliseconds as a string.
# Filters are Langfuse's query filters everywhere: `{column, type, operator, value}`.
class MonitorAlertPayload(_Model):
    monitor_id: str = Field(alias="monitorId", min_length=1, max_length=200)
    project_id: str = Field(default="", alias="projectId", max_length=200)
    permalink: str = Field(default="", max_length=4096)
    message: MonitorMessage = Field(default_factory=MonitorMessage)
    severity: str = Field(max_length=50)
    timestamp: WireTime
    from_timestamp: WireTime | None = Field(default=None, alias="fromTimestamp")
    to_timestamp: WireTime | None = Field(default=None, alias="toTimestamp")
    view: str = Field(default="", max_length=100)
    filters: list[MonitorFilter] = Field(default_factory=list, max_length=MAX_FILTERS)
    window: str | int = ""


# Langfuse's MonitorAlertWebhookOutboundSchema (packages/shared/src/domain/webhooks.ts).
class MonitorAlertEvent(_Model):
    """One delivery. `id` is Langfuse's execution id: the same on each retry of one alert."""

    id: str = Field(min_length=1, max_length=200)
    timestamp: WireTime
    type: Literal["monitor-alert"]
    api_version: Literal["v1"] = Field(alias="apiVersion")
    payload: MonitorAlertPayload


def window_length(raw: str | int) -> timedelta | None:
    """The monitor's window: "1h" (newest servers) or milliseconds (earlier ones); None if neither."""
    text = str(raw).strip()
    match = _WINDOW.match(text)
    if match:
        length = int(match.group(1)) * _UNIT[match.group(2)]
    elif text.isascii() and text.isdigit() and len(text) <= 12:
        length = timedelta(milliseconds=int(text))
    else:
        return None
    return length if timedelta(0) < length <= MAX_WINDOW else None


def describe_window(length: timedelta) -> str:
    minutes = int(length.total_seconds() // 60)
    for unit, size in (("w", 10080), ("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def _equal_values(flt: MonitorFilter) -> list[str]:
    if flt.operator not in EQUALITY_OPERATORS:
        return []
    values = flt.value if isinstance(flt.value, list) else [flt.value]
    return [str(v) for v in values if isinstance(v, str | int) and not isinstance(v, bool)]


@dataclass(frozen=True)
class ProductionMove:
    """Production moving to `to_version` at `at`, as the ledger has it."""

    at: datetime
    from_version: int | None
    to_version: int | None
    by: str


@dataclass(frozen=True)
class RollBackHeldVersion:
    """Roll back `version`: it held production for the monitor's whole window."""

    prompt_name: str
    version: int
    window_start: datetime
    held_since: datetime


@dataclass(frozen=True)
class MonitorSkipped:
    """Not rolled back, and what a person could do about it."""

    reason: str
    prompt_name: str = ""
    # True when only a change to the monitor itself would ever make it act (worth an alarm).
    misconfigured: bool = False


MonitorVerdict = RollBackHeldVersion | MonitorSkipped


def _v(version: int | None) -> str:
    return f"v{version}" if version is not None else "no version"


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def prompt_named(payload: MonitorAlertPayload) -> tuple[str, int | None] | MonitorSkipped:
    """The one prompt (and the version, if the monitor pins one) the monitor's filters name."""
    names = [v for f in payload.filters if f.column in PROMPT_NAME_COLUMNS for v in _equal_values(f)]
    if len(set(names)) != 1:
        found = "no" if not names else f"{len(set(names))}"
        return MonitorSkipped(
            f"the monitor's filters name {found} prompts: give it exactly one filter "
            "`Prompt Name = <name>` so an alert names what to roll back (docs/sources.md#langfuse-alerts)",
            misconfigured=True,
        )
    versions = {
        int(v)
        for f in payload.filters
        if f.column in PROMPT_VERSION_COLUMNS
        for v in _equal_values(f)
        if str(v).isdigit()
    }
    return names[0], (next(iter(versions)) if len(versions) == 1 else None)


def decide(
    event: MonitorAlertEvent,
    moves_newest_first: Sequence[ProductionMove],
    production_now: ProductionNow,
) -> MonitorVerdict:
    """Whether this alert rolls back a version, and which one; else why not."""
    payload = event.payload
    named = prompt_named(payload)
    if isinstance(named, MonitorSkipped):
        return named
    name, pinned_version = named
    if payload.severity != FIRING_SEVERITY:
        return MonitorSkipped(
            f"severity {cut(payload.severity, 20)}: only ALERT rolls back (WARNING and OK are for people)",
            name,
        )
    length = window_length(payload.window)
    if length is None:
        return MonitorSkipped(
            "the alert carries no window we can read: cannot tell whether one version was live for it",
            name,
        )
    window = describe_window(length)
    end = payload.to_timestamp or payload.timestamp
    start = payload.from_timestamp or end - length
    inside = [m for m in moves_newest_first if m.at > start]
    if inside:
        move = inside[-1]  # the earliest move after the window began
        where = "inside" if move.at <= end else "after"
        return MonitorSkipped(
            f"production moved from {_v(move.from_version)} to {_v(move.to_version)} at {_hhmm(move.at)} "
            f"({move.by}), {where} the monitor's {window} window: not rolling back a version that was "
            "not live for the whole window; if the alert persists for a full window it will act",
            name,
        )
    held = moves_newest_first[0] if moves_newest_first else None
    if held is None:
        return MonitorSkipped(
            f"no production change for {name} on record: cannot tell whether the version in production "
            f"was live for the monitor's whole {window} window; roll back by hand "
            "(`prompt-rollback rollback`) or let the next production change be recorded",
            name,
        )
    if held.to_version is None:
        return MonitorSkipped(
            f"no version of {name} held production during the window: nothing to roll back", name
        )
    if not isinstance(production_now, _Unknown) and production_now != held.to_version:
        return MonitorSkipped(
            f"the ledger has {_v(held.to_version)} in production since {_hhmm(held.at)} but Langfuse shows "
            f"{_v(production_now)} now: a move the ledger has not heard of; not rolling back on a guess",
            name,
        )
    if pinned_version is not None and pinned_version != held.to_version:
        return MonitorSkipped(
            f"the monitor watches v{pinned_version} but {_v(held.to_version)} held production for the "
            "whole window: nothing in production to roll back",
            name,
        )
    return RollBackHeldVersion(name, held.to_version, start, held.at)


def fingerprint(event: MonitorAlertEvent) -> str:
    """One alert delivery's fingerprint, from Langfuse's execution id: each retry maps to the
    same rollback request id (and so to one SQS FIFO message)."""
    return hashlib.sha256(f"{event.payload.monitor_id}\x1f{event.id}".encode()).hexdigest()[:16]


def as_alertmanager_body(event: MonitorAlertEvent, verdict: RollBackHeldVersion) -> AlertmanagerWebhook:
    """The alert in the form every source takes before `triage`, naming the held version."""
    payload = event.payload
    title = payload.message.title or f"Langfuse monitor {payload.monitor_id}"
    labels = {
        "alertname": cut(title, 200),
        "prompt_name": verdict.prompt_name,
        "prompt_version": str(verdict.version),
        "provider": "langfuse",
        "source": "langfuse-monitor",
        "monitor_id": cut(payload.monitor_id, 200),
        "severity": cut(payload.severity, 50),
    }
    annotations = {
        "summary": cut(f"{title}: {payload.message.body}" if payload.message.body else title, 1000),
        "window_start": verdict.window_start.isoformat(),
        "held_since": verdict.held_since.isoformat(),
    }
    alert = Alert.model_validate(
        {
            "status": "firing",
            "labels": labels,
            "annotations": annotations,
            "startsAt": payload.timestamp,
            "generatorURL": payload.permalink,
            "fingerprint": fingerprint(event),
        }
    )
    return AlertmanagerWebhook.model_validate(
        {
            "version": "4",
            "groupKey": f"langfuse-monitor:{cut(payload.monitor_id, 200)}",
            "status": "firing",
            "receiver": "langfuse-monitor",
            "alerts": [alert.model_dump(by_alias=True)],
            "externalURL": payload.permalink,
        }
    )
