"""The head's list of the newest records of ours by request id, and since when it misses none:
whole from the first record, whole only from its next record for a summary stored without it, and
its bound moved to the newest record it drops, so it never claims a record it no longer lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prompt_rollback.domain.audit import iso_utc
from prompt_rollback.domain.guard_summary import GuardSummary, advance, summarize
from prompt_rollback.domain.request_index import KEEP_LISTED

T0 = datetime(2026, 11, 1, 12, 0, 0, 500_000, tzinfo=UTC)  # half a second past: rounding shows
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def ours(kind: str, request_id: str, at: datetime) -> dict[str, Any]:
    return {"kind": kind, "request_id": request_id, "outcome": "skipped", "recorded_at": iso_utc(at)}


def change(at: datetime) -> dict[str, Any]:
    return {
        "kind": "change",
        "change": "version_deleted",
        "changed_at": iso_utc(at),
        "recorded_at": iso_utc(at),
    }


def numbered(items: list[dict[str, Any]], first: int = 1) -> list[dict[str, Any]]:
    return [{**item, "seq": seq} for seq, item in enumerate(items, start=first)]


def test_a_list_folded_from_the_first_record_knows_every_request_on_the_chain():
    chain = numbered(
        [
            ours("decision", "rb-a", T0),
            change(T0 + timedelta(seconds=1)),
            ours("intent", "rb-b", T0 + timedelta(seconds=2)),
            ours("decision", "rb-b", T0 + timedelta(seconds=3)),
            ours("followup", "act-1", T0 + timedelta(seconds=4)),
        ]
    )
    requests = summarize(chain).requests
    assert requests.seqs_of("rb-b", LONG_AGO) == (4, 3)  # newest first, intent and decision
    assert requests.seqs_of("rb-a", LONG_AGO) == (1,)
    assert requests.seqs_of("act-1", LONG_AGO) == (5,)
    assert requests.seqs_of("rb-first-delivery", LONG_AGO) == ()  # proven: no records
    assert GuardSummary().requests.seqs_of("rb-on-an-empty-chain", LONG_AGO) == ()
    # What is stored on the item reads back the same.
    assert GuardSummary.from_item(summarize(chain).to_item()) == summarize(chain)


def test_a_summary_stored_without_the_list_knows_requests_only_from_its_next_record():
    stored = summarize(numbered([ours("decision", "rb-old", T0)])).to_item()
    del stored["requests"], stored["requests_complete_after"]  # as the code before the list wrote it
    old = GuardSummary.from_item(stored)
    assert old.requests.seqs_of("rb-old", LONG_AGO) is None
    assert old.requests.seqs_of("rb-first-delivery", LONG_AGO) is None

    later = T0 + timedelta(hours=1)
    advanced = advance(old, {**change(later), "seq": 2})
    # Nothing recorded before the change is known, rb-old's decision least of all.
    assert advanced.requests.seqs_of("rb-old", LONG_AGO) is None
    assert advanced.requests.seqs_of("rb-old", later - timedelta(seconds=1)) is None
    # A request whose records all come after it: none yet.
    assert advanced.requests.seqs_of("rb-new", later + timedelta(seconds=1)) == ()
    advanced = advance(advanced, {**ours("decision", "rb-new", later + timedelta(seconds=2)), "seq": 3})
    assert advanced.requests.seqs_of("rb-new", later + timedelta(seconds=1)) == (3,)


def test_cutting_the_list_moves_its_bound_to_the_newest_record_it_drops():
    decided = [ours("decision", f"rb-{i}", T0 + timedelta(minutes=i)) for i in range(KEEP_LISTED + 2)]
    requests = summarize(numbered(decided)).requests
    assert len(requests.listed) == KEEP_LISTED
    # rb-0 and rb-1 were dropped: a request that may have been recorded when they were is unknown.
    assert requests.seqs_of("rb-0", LONG_AGO) is None
    assert requests.seqs_of("rb-1", T0 + timedelta(minutes=1)) is None
    # rb-1 was recorded half a second past the minute: the bound is not rounded down before it.
    assert requests.seqs_of("rb-1", T0 + timedelta(minutes=1) - timedelta(microseconds=100_000)) is None
    # After the dropped ones, the list holds all.
    assert requests.seqs_of("rb-2", T0 + timedelta(minutes=2) - timedelta(seconds=1)) == (3,)
    assert requests.seqs_of("rb-first-delivery", T0 + timedelta(minutes=2)) == ()
    assert GuardSummary.from_item(summarize(numbered(decided)).to_item()).requests == requests
