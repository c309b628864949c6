"""The guard summary rides on every ledger item, which DynamoDB caps at 400 KB: it stays bounded
however many distinct moves a prompt's long history holds, and keeps the newest ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from prompt_rollback.domain.audit import iso_utc
from prompt_rollback.domain.guard_summary import GuardSummary, advance

T0 = datetime(2020, 1, 1, tzinfo=UTC)
ITEM_LIMIT = 400 * 1024
DAYS = 900


def rollback(seq: int, at: datetime, from_version: int, to_version: int) -> dict[str, Any]:
    return {
        "kind": "decision", "outcome": "rolled_back", "seq": seq, "recorded_at": iso_utc(at),
        "from_version": from_version, "to_version": to_version, "observed_production": to_version,
        "request_id": f"rb-{seq:024x}",
    }  # fmt: skip


def skipped(seq: int, at: datetime, production: int) -> dict[str, Any]:
    return {**rollback(seq, at, production, production), "outcome": "skipped", "to_version": None}


def person_moves(seq: int, at: datetime, from_version: int, to_version: int) -> dict[str, Any]:
    return {
        "kind": "change", "change": "moved", "seq": seq, "changed_at": iso_utc(at),
        "recorded_at": iso_utc(at), "from_version": from_version, "to_version": to_version,
        "actor": "alice@example.com", "source_event_ids": [f"evt-{seq}"],
    }  # fmt: skip


def test_years_of_distinct_moves_keep_the_summary_far_below_the_item_limit():
    # A busy prompt for 900 days: every day someone puts a new version live over v1, an alert is
    # skipped on it, and it is rolled back to v1. Unbounded, the summary reached 471 KB, past the
    # 400 KB item limit, so every append to the chain would have failed.
    summary, seq = GuardSummary(), 0
    for day in range(DAYS):
        at, version = T0 + timedelta(days=day), day + 2
        summary = advance(summary, person_moves(seq := seq + 1, at, 1, version))
        summary = advance(summary, skipped(seq := seq + 1, at + timedelta(minutes=30), version))
        summary = advance(summary, rollback(seq := seq + 1, at + timedelta(hours=1), version, 1))

    size = len(json.dumps(summary.to_item()).encode())
    assert size < ITEM_LIMIT // 3, size  # the record itself has room beside it
    newest = DAYS + 1
    assert summary.rollbacks[0].from_version == newest  # the newest are kept
    assert summary.previous_production(newest) == 1
    assert newest in {d.from_version for d in summary.history()}  # never a target again
