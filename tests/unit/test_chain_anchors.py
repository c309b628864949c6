"""Anchored chain heads catch what the hash chain alone cannot: a cut end, a prompt with no records."""

from __future__ import annotations

from datetime import UTC, datetime

from prompt_rollback.domain.audit import (
    GENESIS_HASH,
    ChainAnchor,
    Unanchored,
    seal,
    unanchored,
    verify_against_anchors,
    verify_chain,
)
from prompt_rollback.domain.changes import ProductionChange


def chain_of(n: int, key: str = "langfuse#support-answer") -> list[dict]:
    records, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        record = seal({"prompt_key": key, "seq": seq, "kind": "decision", "outcome": "skipped"}, prev)
        records.append(record)
        prev = record["hash"]
    return records


def anchors_for(records: list[dict]) -> list[ChainAnchor]:
    return [ChainAnchor(r["prompt_key"], r["seq"], r["hash"]) for r in records]


def test_an_intact_anchored_chain_has_no_findings():
    records = chain_of(8)
    assert verify_chain(records) == [] and verify_against_anchors(records, anchors_for(records)) == []


def test_deleting_the_last_record_passes_the_hash_chain_but_not_the_anchor():
    records = chain_of(8)
    anchors = anchors_for(records)
    cut = records[:-1]
    assert verify_chain(cut) == []  # "7 records, chain intact" without anchors
    [problem] = verify_against_anchors(cut, anchors)
    assert problem.seq == 8 and "truncated" in problem.problem


def test_all_records_gone_and_a_mistyped_name_are_findings():
    [gone] = verify_against_anchors([], anchors_for(chain_of(3)))
    assert "truncated" in gone.problem
    [unknown] = verify_against_anchors([], [])
    assert "no such prompt" in unknown.problem


def test_a_rewritten_head_differs_from_its_anchor():
    records = chain_of(3)
    anchors = anchors_for(records)
    forged = [*chain_of(2), seal({**records[2], "outcome": "rolled_back"}, records[1]["hash"])]
    assert verify_chain(forged) == []
    [problem] = verify_against_anchors(forged, anchors)
    assert problem.seq == 3 and "rewritten" in problem.problem


def test_records_after_the_newest_anchor_are_reported_as_unanchored():
    now = datetime(2026, 4, 17, 15, 0, tzinfo=UTC)
    records = [
        {**record, "recorded_at": recorded_at}
        for record, recorded_at in zip(
            chain_of(5),
            ["2026-04-17T09:00:00.000000Z"] * 4 + ["2026-04-17T14:59:00.000000Z"],
            strict=True,
        )
    ]
    assert verify_against_anchors(records, anchors_for(records[:3])) == []
    found = unanchored(records, anchors_for(records[:3]), now)
    # seq 4 has waited six hours for its anchor: a finding; seq 5 is a minute old: on its way.
    assert [(problem.seq, problem.problem) for problem in found.late] == [
        (4, "not anchored (recorded 2026-04-17T09:00:00.000000Z)")
    ]
    assert found.pending == [5]
    nothing_anchored = unanchored(records, [], now)
    assert [problem.seq for problem in nothing_anchored.late] == [1, 2, 3, 4]
    assert unanchored(records, anchors_for(records), now) == Unanchored(late=[], pending=[])


def test_change_records_chain_and_verify_like_decisions():
    change = ProductionChange(
        prompt_key="langfuse#support-answer",
        prompt_name="support-answer",
        provider="langfuse",
        change="moved",
        from_version=7,
        to_version=8,
        actor="alice@example.com",
        changed_at=datetime(2026, 4, 17, 14, 5, tzinfo=UTC),
        source="langfuse-webhook",
        source_event_ids=("evt_1",),
    )
    records = chain_of(2)
    records.append(
        seal({**change.fields(datetime(2026, 4, 17, 14, 6, tzinfo=UTC)), "seq": 3}, records[1]["hash"])
    )
    assert verify_chain(records) == []
    edited = [*records[:2], {**records[2], "actor": "someone-else"}]
    assert [p.seq for p in verify_chain(edited)] == [3]
