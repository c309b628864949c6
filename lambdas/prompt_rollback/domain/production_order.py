"""Who held production when, on one time line, whatever order the records were appended in.
A change sits at its source's time (Langfuse's updatedAt, CloudTrail's eventTime) but never later
than a few minutes after we recorded it, so a clock far ahead cannot outrank every later move."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prompt_rollback.domain.audit import parse_iso_utc
from prompt_rollback.domain.policy import PastChange, held_before
from prompt_rollback.domain.rollout_record import ROLLOUT_KINDS

# Langfuse delivers within seconds; its retries come later, never earlier than the change.
CLOCK_AHEAD_ALLOWED = timedelta(minutes=5)
# Langfuse updates the gaining and the losing version in one request: their times are this close.
SAME_MOVE = timedelta(seconds=2)
# A decision or intent saw production at its time by our clock; a move recorded from another
# clock that close to it may have come just after it, so the move wins.
OBSERVATION_SLACK = CLOCK_AHEAD_ALLOWED
# Change kinds that put a version in production (or nothing: `removed`).
HOLDING_CHANGES = ("moved", "created_in_production", "removed", "observed")
# Of those, the moves whose "from" is resolved on the time line (`observed` keeps what it said).
RESOLVED_CHANGES = ("moved", "created_in_production", "removed")


def placed_at(changed_at: datetime, recorded_at: datetime | None) -> datetime:
    """Where a change sits on the time line: its own time, unless that is far after we heard of it."""
    if recorded_at is None:
        return changed_at
    return min(changed_at, recorded_at + CLOCK_AHEAD_ALLOWED)


def record_time(record: Mapping[str, Any]) -> datetime:
    """A ledger record's place on the time line (a change's own time, else when we recorded it)."""
    recorded = str(record.get("recorded_at") or "")
    recorded_at = parse_iso_utc(recorded) if recorded else None
    if record.get("kind") == "change":
        return placed_at(parse_iso_utc(str(record["changed_at"])), recorded_at)
    if recorded_at is None:
        raise ValueError("a decision or intent without recorded_at")
    return recorded_at


@dataclass(frozen=True, order=True)
class Holding:
    """From `at`, `version` held production (None: no version did), as one record says."""

    at: datetime
    order: int  # append order breaks ties
    version: int | None = field(compare=False)
    observed: bool = field(compare=False, default=False)


def holding(record: Mapping[str, Any], order: int) -> Holding | None:
    """What one record says about who held production, or None when it says nothing about it."""
    kind = record.get("kind")
    if kind == "change":
        what = record.get("change")
        at = record_time(record)
        if what in HOLDING_CHANGES:
            return Holding(at, order, _int(record.get("to_version")))
        if what == "version_deleted" and record.get("from_version") is not None:
            return Holding(at, order, None)  # the deleted version held production
        return None  # `left`, and deletes of versions that did not hold it
    if kind == "decision" and record.get("outcome") == "rolled_back":
        return Holding(record_time(record), order, _int(record.get("to_version")))
    if kind in ROLLOUT_KINDS and record.get("production") is not None:
        return Holding(record_time(record), order, _int(record.get("production")))  # promoted, or baked back
    if kind in ("decision", "intent") and record.get("observed_production") is not None:
        # Weaker than a move: a move from another clock close before it may have come after it.
        at = record_time(record) - OBSERVATION_SLACK
        return Holding(at, order, _int(record.get("observed_production")), observed=True)
    return None


def holdings(records_newest_first: Sequence[Mapping[str, Any]]) -> list[Holding]:
    """Every record's word on production, oldest first on the time line."""
    count = len(records_newest_first)
    found = (holding(r, count - i) for i, r in enumerate(records_newest_first))
    return sorted(h for h in found if h is not None)


def holder_at(timeline: Sequence[Holding], at: datetime, before_order: int | None = None) -> Holding | None:
    """The newest holding at or before `at` (and appended before `before_order`, when given)."""
    found = None
    for item in timeline:
        if item.at > at:
            break
        if before_order is None or item.order != before_order:
            found = item
    return found


def holder_before(timeline: Sequence[Holding], at: datetime, order: int) -> Holding | None:
    """Who held production just before a move at `at` (appended as `order`), the move left out."""
    return holder_at(timeline, at - SAME_MOVE / 2, before_order=order)


def move_from(left: int | None, before: Holding | None, recorded: int | None) -> int | None:
    """A person's move's "from": the losing version's event when it is on record, else the holder
    just before it on the time line, else what the record said when it was written."""
    if left is not None:
        return left
    if before is not None and before.version is not None:
        return before.version
    return recorded


def left_half(records: Sequence[Mapping[str, Any]], at: datetime, to_version: int | None) -> int | None:
    """The version a move to `to_version` at `at` came from, when its losing half is on record
    (a `left` record of the same Langfuse request, naming that gainer or none yet)."""
    found: tuple[timedelta, int | None] | None = None
    for record in records:
        if record.get("kind") != "change" or record.get("change") != "left":
            continue
        apart = abs(record_time(record) - at)
        gainer = _int(record.get("to_version"))
        if apart <= SAME_MOVE and gainer in (None, to_version) and (found is None or apart < found[0]):
            found = (apart, _int(record.get("from_version")))
    return found[1] if found else None


def past_moves(records_newest_first: Sequence[Mapping[str, Any]]) -> list[PastChange]:
    """The production changes people made, newest first, each from the version that really held
    production before it: the losing version's event when it is on record, else the holder
    just before it on the time line, else what the record said when it was written."""
    count = len(records_newest_first)
    timeline = holdings(records_newest_first)
    moves = []
    for index, record in enumerate(records_newest_first):
        if record.get("kind") != "change" or record.get("change") not in HOLDING_CHANGES:
            continue  # a `left` half is not a move; a delete says nothing about who moved production
        at = record_time(record)
        from_version = _int(record.get("from_version"))
        if record.get("change") in RESOLVED_CHANGES:
            before = holder_before(timeline, at, count - index)
            left = left_half(records_newest_first, at, _int(record.get("to_version")))
            from_version = move_from(left, before, from_version)
        moves.append(
            PastChange(at, from_version, _int(record.get("to_version")), str(record.get("actor", "")))
        )
    return sorted(moves, key=lambda m: m.changed_at, reverse=True)


def previous_production(records_newest_first: Sequence[Mapping[str, Any]], current: int) -> int | None:
    """The version that held production right before `current`, when the ledger knows it."""
    moves = past_moves(records_newest_first)
    moves += [
        PastChange(record_time(r), _int(r.get("from_version")), _int(r.get("to_version")), "prompt-rollback")
        for r in records_newest_first
        if r.get("kind") == "decision" and r.get("outcome") == "rolled_back"
    ]
    found = held_before(current, moves, ())
    return found[0][0] if found else None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
