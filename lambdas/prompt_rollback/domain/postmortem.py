"""A postmortem draft of one rollback, from its prompt's ledger and the bad version's registry record:
summary, impact window, timeline, the version's own record, and empty cause and prevention. Pure;
every fact is a record's, "unknown" where none says; text from outside is cut and escaped."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from prompt_rollback.domain import timeline
from prompt_rollback.domain.audit import parse_iso_utc
from prompt_rollback.domain.audit_record import AuditRecord, LedgerRecord, record_from_item
from prompt_rollback.domain.changes import ProductionChange
from prompt_rollback.domain.gate_evidence import latest_gate
from prompt_rollback.domain.interactions import Click, derived_request_id
from prompt_rollback.domain.paging import PagerReport
from prompt_rollback.domain.production_order import record_time
from prompt_rollback.domain.rollout_record import RolloutRecord

PostmortemFormat = Literal["markdown", "json"]
UNKNOWN = "unknown"
TEXT_LIMIT = 500  # one timeline line, a commit message: a draft, not the evidence (`audit --format json`)
# The version's config may carry the gate's verdict: {"prompt_gate": {"verdict": "APPROVE", ...}}.
GATE_CONFIG_KEY = "prompt_gate"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class VersionRecord(BaseModel):
    """What the registry says of one version; None where it says nothing."""

    # defer_build: a function imports many more models than it validates; each is built when first used.
    model_config = ConfigDict(frozen=True, defer_build=True)

    version: int
    commit_message: str | None = None
    gate_verdict: str | None = None
    labels: tuple[str, ...] = ()


class ImpactWindow(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    version: int | None
    went_live_at: str  # ISO-8601 UTC, or "unknown"
    put_there_by: str
    how: str
    went_live_ref: str
    left_at: str  # ISO-8601 UTC, "unknown", or "still in production"
    left_how: str


class TimelineEvent(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    at: str
    what: (
        str  # change | alert | decision | click | recovered | recovery_overdue | slack | pagerduty | rollout
    )
    detail: str
    ref: str = ""
    seq: int | None = None  # the ledger record it comes from
    links: tuple[str, ...] = ()


class GateOnChain(BaseModel):
    """The newest regression-gate record of the bad version on its prompt's chain (`prompt-gate --record`)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    verdict: str
    seq: int
    recorded_at: str
    recorded_by: str


class Postmortem(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    rollback_id: str
    prompt_name: str
    provider: str
    stage: str
    summary: str
    impact: ImpactWindow
    timeline: tuple[TimelineEvent, ...]
    version_record: VersionRecord | None
    version_record_note: str
    gate_on_chain: GateOnChain | None = None
    cause: str = ""
    prevention: str = ""


class NotInLedger(LookupError):
    """No decision with this rollback id in the prompt's ledger."""


def gate_verdict(config: Mapping[str, Any] | None) -> str | None:
    gate = (config or {}).get(GATE_CONFIG_KEY)
    verdict = gate.get("verdict") if isinstance(gate, Mapping) else None
    return str(verdict)[:40] if verdict else None


def _when(moment: datetime) -> str:
    """To the second, in UTC: a draft for people; the ledger keeps the microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(text: str, limit: int = TEXT_LIMIT) -> str:
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _v(version: int | None) -> str:
    return UNKNOWN if version is None else f"v{version}"


def _related_ids(rollback_id: str) -> set[str]:
    return {rollback_id, *(derived_request_id(click, rollback_id) for click in (Click.APPROVE, Click.UNDO))}


def decision_of(items: Sequence[Mapping[str, Any]], rollback_id: str) -> AuditRecord:
    """The decision of `rollback_id` in a chain of stored items, or NotInLedger."""
    return _decision([record_from_item(item) for item in items], rollback_id)


def _decision(records: Sequence[LedgerRecord], rollback_id: str) -> AuditRecord:
    for record in records:
        if isinstance(record, AuditRecord) and record.is_decision and record.request_id == rollback_id:
            return record
    raise NotInLedger(f"no decision with rollback id {rollback_id!r} in this prompt's ledger")


def _impact(items: Sequence[Mapping[str, Any]], decision: AuditRecord) -> ImpactWindow:
    """The bad version's tenure that held production when we decided, and what ended it."""
    decided, version = parse_iso_utc(decision.recorded_at), decision.from_version
    tenures = timeline.tenures(items)
    held = [t for t in tenures if t.version == version and t.since <= decided]
    tenure = held[-1] if version is not None and held else None
    # What ended it: the next tenure on record (a move whose start we may know though its own is not).
    ends = tenure.until if tenure else decided
    after = [t for t in tenures if t.version != version and ends is not None and t.since >= ends]
    left_at, left_how = "still in production", ""
    if after:
        left_at = _when(after[0].since)
        left_how = f"{after[0].how} by {_one_line(after[0].put_by, 300)} to {_v(after[0].version)}"
    elif tenure is None or tenure.until is not None:
        left_at = UNKNOWN
    return ImpactWindow(
        version=version,
        went_live_at=_when(tenure.since) if tenure else UNKNOWN,
        put_there_by=_one_line(tenure.put_by, 300) if tenure else UNKNOWN,
        how=tenure.how if tenure else UNKNOWN,
        went_live_ref=_one_line(tenure.ref, 300) if tenure else "",
        left_at=left_at,
        left_how=left_how,
    )


def _change_event(change: ProductionChange) -> TimelineEvent:
    who = _one_line(change.actor, 200) or UNKNOWN
    why = f": {_one_line(change.reason)}" if change.reason else ""
    moved = f"{_v(change.from_version)} → {_v(change.to_version)}"
    refs = change.source_request_id or ",".join(change.source_event_ids)
    return TimelineEvent(
        at=_when(record_time(change.to_item())),
        what="change",
        detail=f"{change.change} {moved} by {who} ({change.source}){why}",
        ref=_one_line(refs, 200),
        seq=change.seq,
    )


def _alert_event(record: AuditRecord) -> TimelineEvent | None:
    trigger = record.trigger or {}
    if not trigger:
        return None
    labels = trigger.get("labels") or {}
    shown = ", ".join(
        f"{key}={_one_line(str(labels[key]), 100)}"
        for key in ("trigger", "prompt_version", "env", "severity")
        if labels.get(key)
    )
    summary = _one_line(str(trigger.get("summary", "")))
    links = tuple(
        str(trigger[key])
        for key in ("generator_url", "runbook_url", "external_url")
        if str(trigger.get(key, "")).startswith(("https://", "http://"))
    )
    name = _one_line(str(trigger.get("alertname", "")), 200) or "an alert"
    detail = f"{name} fired" + (f" ({shown})" if shown else "") + (f": {summary}" if summary else "")
    return TimelineEvent(
        at=_when(parse_iso_utc(str(trigger["starts_at"]))) if trigger.get("starts_at") else UNKNOWN,
        what="alert",
        detail=detail,
        ref=_one_line(str(trigger.get("fingerprint", "")), 64),
        seq=record.seq,
        links=links,
    )


def _pager_event(at: str, report: PagerReport, seq: int) -> TimelineEvent:
    detail = f"PagerDuty {report.status}" + (f": {_one_line(report.detail, 200)}" if report.detail else "")
    return TimelineEvent(at=at, what="pagerduty", detail=detail, ref=report.dedup_key, seq=seq)


def _our_events(record: AuditRecord, retarget: bool = False) -> list[TimelineEvent]:
    at = _when(parse_iso_utc(record.recorded_at))
    moved = f"{_v(record.from_version)} → {_v(record.to_version)}"
    reason = _one_line(record.reason)
    if record.kind == "intent" and retarget:
        text = f"rollback {moved} instead: {_one_line(record.basis)}"
        events = [TimelineEvent(at=at, what="intent", detail=text, ref=record.request_id, seq=record.seq)]
    elif record.kind == "intent":
        text = f"rollback {moved} requested by {_one_line(record.actor, 200)} ({record.mode}); the lock taken"
        events = [TimelineEvent(at=at, what="intent", detail=text, ref=record.request_id, seq=record.seq)]
    elif record.kind == "decision":
        who = f"prompt-rollback ({record.mode}, {_one_line(record.actor, 200)})"
        text = f"{record.outcome.value} {moved} by {who}"
        text += f": {reason}" if reason else ""
        events = [TimelineEvent(at=at, what="decision", detail=text, ref=record.request_id, seq=record.seq)]
    else:
        click = f"{record.click} by {_one_line(record.actor, 200)}: " if record.click else ""
        what = "click" if record.click else record.outcome.value
        text = f"{click}{record.outcome.value}" + (f": {reason}" if reason else "")
        events = [TimelineEvent(at=at, what=what, detail=text, ref=record.rollback_id, seq=record.seq)]
    if record.slack is not None and record.slack.ts:
        where = f"message {record.slack.status} in {record.slack.channel} (ts {record.slack.ts})"
        events.append(TimelineEvent(at=at, what="slack", detail=where, ref=record.slack.ts, seq=record.seq))
    if record.pagerduty is not None:
        events.append(_pager_event(at, record.pagerduty, record.seq))
    return events


def _rollout_event(record: RolloutRecord) -> TimelineEvent:
    text = f"rollout {record.kind} v{record.candidate} at {record.share} % (stable v{record.stable})"
    text += f" by {_one_line(record.actor, 200)}" if record.actor else ""
    return TimelineEvent(
        at=_when(parse_iso_utc(record.recorded_at)),
        what="rollout",
        detail=text,
        ref=record.rollout_id,
        seq=record.seq,
    )


def _timeline(
    records: Sequence[LedgerRecord], rollback_id: str, since: datetime | None
) -> list[TimelineEvent]:
    """What the ledger holds of this rollback, and every change and rollout step since the bad version
    went live (or since this rollback's first record, when that is unknown)."""
    related = _related_ids(rollback_id)
    ours = [
        r
        for r in records
        if isinstance(r, AuditRecord) and (r.request_id in related or r.rollback_id in related)
    ]
    start = since or min((parse_iso_utc(r.recorded_at) for r in ours), default=None)
    end = max((parse_iso_utc(r.recorded_at) for r in ours), default=None)
    events: list[TimelineEvent] = []
    intended: set[str] = set()
    for record in sorted(ours, key=lambda r: r.seq):
        # A second intent of the same request replaces a target that no longer existed: one alert.
        retarget = record.kind == "intent" and record.request_id in intended
        if record.kind == "intent" and record.request_id == rollback_id and not retarget:
            alert = _alert_event(record)
            events.extend([alert] if alert else [])
        intended |= {record.request_id} if record.kind == "intent" else set()
        events.extend(_our_events(record, retarget))
    for other in records:
        if isinstance(other, ProductionChange):
            event, at = _change_event(other), record_time(other.to_item())
        elif isinstance(other, RolloutRecord) and other.kind != "analysis":
            event, at = _rollout_event(other), parse_iso_utc(other.recorded_at)
        else:
            continue
        if start is not None and end is not None and start <= at <= end:
            events.append(event)
    return sorted(events, key=lambda e: (e.at, e.seq or 0))


def _summary(decision: AuditRecord, impact: ImpactWindow, events: Sequence[TimelineEvent]) -> str:
    moved = f"{_v(decision.from_version)} → {_v(decision.to_version)}"
    alert = (decision.trigger or {}).get("alertname")
    cause = f" after the alert {_one_line(str(alert), 200)}" if alert else f": {_one_line(decision.reason)}"
    text = (
        f"{decision.prompt_name} ({decision.provider}): prompt-rollback's decision at "
        f"{_when(parse_iso_utc(decision.recorded_at))} was {decision.outcome.value.replace('_', ' ')} "
        f"{moved}{cause}."
    )
    if impact.went_live_at != UNKNOWN:
        text += (
            f" {_v(impact.version)} had held production since {impact.went_live_at} ({impact.put_there_by})."
        )
    ends = [e for e in events if e.what in ("recovered", "recovery_overdue")]
    text += f" Then: {ends[-1].detail}." if ends else " Recovery: not on record."
    return text


def build(
    rollback_id: str,
    items: Sequence[Mapping[str, Any]],
    version_record: VersionRecord | None,
    version_record_note: str = "",
) -> Postmortem:
    """The draft of `rollback_id` from its prompt's chain (items as stored, oldest first)."""
    records = [record_from_item(item) for item in items]
    decision = _decision(records, rollback_id)
    impact = _impact(items, decision)
    since = None if impact.went_live_at == UNKNOWN else parse_iso_utc(impact.went_live_at)
    events = _timeline(records, rollback_id, since)
    return Postmortem(
        rollback_id=rollback_id,
        prompt_name=decision.prompt_name,
        provider=decision.provider,
        stage=decision.stage,
        summary=_summary(decision, impact, events),
        impact=impact,
        timeline=tuple(events),
        version_record=version_record,
        version_record_note=version_record_note,
        gate_on_chain=_gate_on_chain(records, impact.version),
    )


def _gate_on_chain(records_oldest_first: Sequence[LedgerRecord], version: int | None) -> GateOnChain | None:
    gate = None if version is None else latest_gate(reversed(records_oldest_first), version)
    if gate is None:
        return None
    verdict = str(gate.detail.get("verdict", UNKNOWN))
    return GateOnChain(verdict=verdict, seq=gate.seq, recorded_at=gate.recorded_at, recorded_by=gate.actor)


# ---- rendering ---------------------------------------------------------------------------------
def _md(text: str) -> str:
    """Text from a record, safe in a Markdown table cell: no HTML, links or cell breaks of its own."""
    text = _one_line(text)
    for char, escaped in (
        ("\\", "\\\\"),
        ("|", "\\|"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ("[", "\\["),
        ("]", "\\]"),
        ("`", "\\`"),
        ("*", "\\*"),
        ("_", "\\_"),
    ):
        text = text.replace(char, escaped)
    return text


def _link(url: str) -> str:
    for char, encoded in ((">", "%3E"), (" ", "%20"), ("|", "%7C")):
        url = url.replace(char, encoded)
    return f"<{url}>"


def render(postmortem: Postmortem, fmt: PostmortemFormat) -> str:
    if fmt == "json":
        return json.dumps(postmortem.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"
    return render_markdown(postmortem)


def _impact_rows(impact: ImpactWindow) -> list[str]:
    rows = [
        ("bad version", _v(impact.version)),
        ("went live", impact.went_live_at),
        ("put there by", impact.put_there_by),
        ("how", f"{impact.how}" + (f" (ref {impact.went_live_ref})" if impact.went_live_ref else "")),
        ("left production", impact.left_at + (f", {impact.left_how}" if impact.left_how else "")),
    ]
    return ["| | |", "|---|---|", *(f"| {name} | {_md(value)} |" for name, value in rows)]


def _gate_line(postmortem: Postmortem) -> str:
    gate = postmortem.gate_on_chain
    if gate is None:
        return "- gate record on the audit chain: none (`prompt-gate … --record` writes one)"
    by = f"{_md(gate.recorded_at)} by {_md(gate.recorded_by)}"
    return f"- gate record on the audit chain: {_md(gate.verdict)} (seq {gate.seq}, {by})"


def _version_lines(postmortem: Postmortem) -> list[str]:
    return [*_registry_lines(postmortem), _gate_line(postmortem)]


def _registry_lines(postmortem: Postmortem) -> list[str]:
    record = postmortem.version_record
    if record is None:
        return [f"Not read from the registry: {_md(postmortem.version_record_note or UNKNOWN)}."]
    commit = _md(record.commit_message) if record.commit_message else "none recorded"
    verdict = _md(record.gate_verdict) if record.gate_verdict else "not recorded"
    labels = _md(", ".join(record.labels)) if record.labels else "none"
    return [
        f"- version: v{record.version}",
        f"- commit message: {commit}",
        f"- gate verdict in the version's config: {verdict}",
        f"- labels now: {labels}",
    ]


def render_markdown(postmortem: Postmortem) -> str:
    impact = postmortem.impact
    about = f"{_md(postmortem.prompt_name)} {_v(impact.version)} ({_md(postmortem.rollback_id)})"
    where = f"Provider {_md(postmortem.provider)}, stage {_md(postmortem.stage) or UNKNOWN}."
    lines = [
        f"# Postmortem draft: {about}",
        "",
        f"{where} Drafted from the audit "
        'ledger and the prompt registry: every fact below is on record, "unknown" where none says. '
        "A person finishes the cause and the prevention.",
        "",
        "## Summary",
        "",
        _md(postmortem.summary),
        "",
        "## Impact window",
        "",
        *_impact_rows(impact),
        "",
        "## Timeline (UTC)",
        "",
        "| at | what | detail | ref | seq |",
        "|---|---|---|---|---|",
    ]
    for event in postmortem.timeline:
        links = " ".join(_link(url) for url in event.links)
        detail = _md(event.detail) + (f" {links}" if links else "")
        seq = "" if event.seq is None else str(event.seq)
        lines.append(f"| {event.at} | {event.what} | {detail} | {_md(event.ref)} | {seq} |")
    lines += ["", "## The version's own record", "", *_version_lines(postmortem), ""]
    lines += ["## Cause", "", "_To be written._", "", "## Prevention", "", "_To be written._", ""]
    return "\n".join(lines)
