"""One timeline of a prompt's production: the changes people made and the decisions we made.
Pure, from ledger records: `entries` is `prompt-rollback audit`, `tenures` is `history`. Times are
our decision's, or the change's own but never far after it was recorded (domain/production_order.py)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from prompt_rollback.domain.audit import iso_utc, parse_iso_utc
from prompt_rollback.domain.production_order import record_time
from prompt_rollback.domain.rollout_record import ROLLOUT_KINDS

TimelineFormat = Literal["table", "json", "csv"]
COLUMNS = ("at", "prompt", "kind", "what", "from", "to", "who", "why", "source", "ref")
_MAX_CELL = 60
_MOVES = ("moved", "created_in_production", "rolled_back", "observed", "promoted")
# Names and reasons come from people (a Langfuse user name, an alert annotation). A spreadsheet
# runs a CSV cell starting with one of these as a formula; a leading ' makes it text (OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A line break or a terminal escape in a table cell would print a row nobody recorded.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    prompt: str
    kind: str  # "change" | "decision" | "intent" | "rollout"
    what: str
    from_version: int | None
    to_version: int | None
    who: str
    why: str
    source: str
    ref: str  # Langfuse event ids, CloudTrail requestID, or our rollback id
    # The ledger record itself: `--format json` prints it whole, as evidence.
    record: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def moves_production(self) -> bool:
        return self.to_version is not None and self.what in _MOVES


def _entry(record: Mapping[str, Any]) -> TimelineEntry | None:
    kind = str(record.get("kind", ""))
    if kind == "change":
        ids = [str(i) for i in record.get("source_event_ids") or ()]
        ref = str(record.get("source_request_id") or "") or ",".join(ids)
        what = str(record.get("change", ""))
        if what == "version_deleted":
            what = f"v{record.get('version')} deleted"
        return TimelineEntry(
            at=record_time(record),
            prompt=str(record.get("prompt_name", "")),
            kind=kind,
            what=what,
            from_version=record.get("from_version"),
            to_version=record.get("to_version"),
            who=str(record.get("actor", "")),
            why=str(record.get("reason", "")),
            source=str(record.get("source", "")),
            ref=ref,
            record=record,
        )
    if kind in ("decision", "intent"):
        trigger = record.get("trigger") or {}
        why = "; ".join(
            str(p)
            for p in (record.get("reason"), record.get("request_reason"), trigger.get("alertname"))
            if p
        )
        return TimelineEntry(
            at=parse_iso_utc(str(record["recorded_at"])),
            prompt=str(record.get("prompt_name", "")),
            kind=kind,
            what=str(record.get("outcome", "")) if kind == "decision" else "intent",
            from_version=record.get("from_version"),
            to_version=record.get("to_version"),
            who=f"prompt-rollback ({record.get('mode', '')}, {record.get('actor', '')})",
            why=why,
            source="prompt-rollback",
            ref=str(record.get("request_id", "")),
            record=record,
        )
    if kind in ROLLOUT_KINDS and kind != "analysis":  # the numbers stay in the ledger, not the timeline
        gate = kind == "gate"  # a gate verdict is about the candidate alone
        return TimelineEntry(
            at=parse_iso_utc(str(record["recorded_at"])),
            prompt=str(record.get("prompt_name", "")),
            kind="rollout",
            what=_rollout_what(kind, record),
            from_version=None if gate else record.get("from_version"),
            to_version=record.get("to_version"),
            who=str(record.get("actor", "")),
            why=str(record.get("reason", "")),
            source="prompt-rollback rollout",
            ref=str(record.get("rollout_id", "")),
            record=record,
        )
    return None


def _rollout_what(kind: str, record: Mapping[str, Any]) -> str:
    if kind == "promoted":
        return kind
    if kind == "gate":
        return f"gate {(record.get('detail') or {}).get('verdict', '')}".rstrip()
    return f"{kind} {record.get('share', 0)} %"


def entries(
    records: Iterable[Mapping[str, Any]],
    since: datetime | None = None,
    until: datetime | None = None,
    version: int | None = None,
    include_intents: bool = False,
) -> list[TimelineEntry]:
    """Changes and decisions, oldest first, with since <= at < until, optionally about one version."""
    found = []
    for record in records:
        entry = _entry(record)
        if entry is None or (entry.kind == "intent" and not include_intents):
            continue
        if (since and entry.at < since) or (until and entry.at >= until):
            continue
        if version is not None and version not in (entry.from_version, entry.to_version):
            continue
        found.append(entry)
    return sorted(found, key=lambda e: e.at)


@dataclass(frozen=True)
class Tenure:
    """One version's time in production."""

    version: int | None
    since: datetime
    until: datetime | None
    put_by: str
    how: str
    ref: str


def tenures(records: Iterable[Mapping[str, Any]]) -> list[Tenure]:
    """The production timeline, oldest first: every move (ours or anyone's) starts a tenure."""
    moves: list[TimelineEntry] = []
    for entry in entries(records):
        if not (entry.moves_production or entry.what == "removed"):
            continue
        if moves and moves[-1].to_version == entry.to_version:
            continue  # the same holder seen again (an observation after the move's own record)
        moves.append(entry)
    result: list[Tenure] = []
    for index, move in enumerate(moves):
        until = moves[index + 1].at if index + 1 < len(moves) else None
        result.append(Tenure(move.to_version, move.at, until, move.who, move.what, move.ref))
    return result


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso_utc(value)[:19] + "Z"
    return str(value)


def _rows(items: Sequence[TimelineEntry]) -> list[dict[str, str]]:
    return [
        {
            "at": _cell(e.at),
            "prompt": e.prompt,
            "kind": e.kind,
            "what": e.what,
            "from": f"v{e.from_version}" if e.from_version is not None else "",
            "to": f"v{e.to_version}" if e.to_version is not None else "",
            "who": e.who,
            "why": e.why,
            "source": e.source,
            "ref": e.ref,
        }
        for e in items
    ]


def _spreadsheet_safe(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _csv(rows: list[dict[str, str]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: _spreadsheet_safe(row[c]) for c in columns} for row in rows)
    return out.getvalue().rstrip("\n")


def _table(rows: list[dict[str, str]], columns: Sequence[str]) -> str:
    rows = [{c: _CONTROL.sub(" ", row[c]) for c in columns} for row in rows]
    widths = {c: min(_MAX_CELL, max([len(c), *(len(r[c]) for r in rows)])) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns).rstrip()]
    for row in rows:
        lines.append("  ".join(row[c][: widths[c]].ljust(widths[c]) for c in columns).rstrip())
    return "\n".join(lines)


def render(items: Sequence[TimelineEntry], fmt: TimelineFormat) -> str:
    rows = _rows(items)
    if fmt == "json":
        # The whole records, oldest first: the evidence itself rather than a summary of it.
        return json.dumps([dict(e.record) for e in items], indent=2, ensure_ascii=False, default=str)
    if fmt == "csv":
        return _csv(rows, COLUMNS)
    return _table(rows, COLUMNS) if rows else "(nothing in this window)"


def render_tenures(items: Sequence[Tenure], fmt: TimelineFormat) -> str:
    rows = [
        {
            "version": f"v{t.version}" if t.version is not None else "(none)",
            "since": _cell(t.since),
            "until": _cell(t.until) or "now",
            "put there by": t.put_by,
            "how": t.how,
            "ref": t.ref,
        }
        for t in items
    ]
    columns = ("version", "since", "until", "put there by", "how", "ref")
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False)
    if fmt == "csv":
        return _csv(rows, columns)
    return _table(rows, columns) if rows else "(no production change on record)"
