"""The auditor's timeline: changes and decisions together, and who held production when."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from prompt_rollback.domain.timeline import entries, render, render_tenures, tenures

FA = "financial-analysis"


def change(at: str, frm: int | None, to: int, who: str, ids: list[str], kind: str = "moved") -> dict:
    return {
        "kind": "change",
        "prompt_name": FA,
        "change": kind,
        "from_version": frm,
        "to_version": to,
        "version": to,
        "actor": who,
        "changed_at": at,
        "recorded_at": at,
        "reason": "new tone" if to == 6 else "",
        "source": "langfuse-webhook",
        "source_event_ids": ids,
        "source_request_id": "",
    }


RECORDS = [
    change("2026-04-16T09:00:00.000000Z", None, 5, "alice@example.com", ["evt_a"]),
    change("2026-04-17T14:12:31.000000Z", 5, 6, "bob@example.com", ["evt_b"]),
    {
        "kind": "intent",
        "prompt_name": FA,
        "outcome": "rolled_back",
        "from_version": 6,
        "to_version": 5,
        "recorded_at": "2026-04-17T14:40:02.000000Z",
        "request_id": "rb-1",
        "actor": "alertmanager",
        "mode": "automatic",
    },
    {
        "kind": "decision",
        "prompt_name": FA,
        "outcome": "rolled_back",
        "from_version": 6,
        "to_version": 5,
        "recorded_at": "2026-04-17T14:40:03.000000Z",
        "request_id": "rb-1",
        "actor": "alertmanager",
        "mode": "automatic",
        "reason": "rolled back",
        "trigger": {"alertname": "PromptQualityDrop"},
    },
]


def test_who_deployed_v6_between_14_and_15():
    window = entries(
        RECORDS,
        since=datetime(2026, 4, 17, 14, tzinfo=UTC),
        until=datetime(2026, 4, 17, 15, tzinfo=UTC),
        version=6,
    )
    assert [(e.what, e.to_version, e.who) for e in window] == [
        ("moved", 6, "bob@example.com"),
        ("rolled_back", 5, "prompt-rollback (automatic, alertmanager)"),
    ]
    assert window[1].why == "rolled back; PromptQualityDrop"


def test_intents_are_left_out_unless_asked_for():
    assert [e.kind for e in entries(RECORDS)] == ["change", "change", "decision"]
    assert "intent" in [e.kind for e in entries(RECORDS, include_intents=True)]


def test_production_timeline_says_who_put_each_version_there_and_until_when():
    [first, second, third] = tenures(RECORDS)
    assert (first.version, first.put_by, first.until) == (5, "alice@example.com", second.since)
    assert (second.version, second.put_by) == (6, "bob@example.com")
    assert (third.version, third.until) == (5, None)
    table = render_tenures(tenures(RECORDS), "table")
    assert "v6" in table and "bob@example.com" in table and "now" in table


def test_json_and_csv_carry_the_same_entries():
    items = entries(RECORDS)
    as_json = json.loads(render(items, "json"))
    rows = list(csv.DictReader(io.StringIO(render(items, "csv"))))
    # json: the whole ledger records (the evidence); csv: the timeline's columns.
    assert [j["kind"] for j in as_json] == [r["kind"] for r in rows] == ["change", "change", "decision"]
    assert rows[1]["to"] == "v6" and rows[1]["ref"] == "evt_b" and as_json[1]["source_event_ids"] == ["evt_b"]
