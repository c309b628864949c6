"""The audit hash chain detects edits, deletions and reordering."""

from __future__ import annotations

from prompt_rollback.domain.audit import GENESIS_HASH, seal, verify_chain


def chain(n: int) -> list[dict]:
    records, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        record = seal(
            {"seq": seq, "prompt_key": "langfuse#p", "outcome": "rolled_back", "to_version": seq}, prev
        )
        records.append(record)
        prev = record["hash"]
    return records


def test_an_untouched_chain_verifies():
    assert verify_chain(chain(5)) == []


def test_an_edited_record_is_detected():
    records = chain(4)
    records[1] = {**records[1], "outcome": "skipped"}
    problems = verify_chain(records)
    assert [(p.seq, p.problem) for p in problems] == [(2, "content does not match its hash (edited?)")]


def test_a_deleted_record_is_detected():
    records = chain(4)
    del records[2]
    problems = verify_chain(records)
    assert {p.seq for p in problems} == {4}
    assert any("sequence gap" in p.problem for p in problems)


def test_a_rewritten_record_with_a_fresh_hash_still_breaks_the_link():
    records = chain(3)
    forged = seal(
        {**{k: v for k, v in records[1].items() if k not in ("hash", "prev_hash")}, "to_version": 99},
        records[0]["hash"],
    )
    records[1] = forged
    assert [p.seq for p in verify_chain(records)] == [3]
