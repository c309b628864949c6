"""Audit records and their per-prompt SHA-256 hash chain, which `verify_chain` walks.
A deleted, edited or reordered record breaks the chain. The worker's `intent` record, written
before the registry is touched, is both the lock and the note that lets a retry finish a rollback."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

GENESIS_HASH = "0" * 64
RecordKind = Literal["intent", "decision"]


def canonical_json(fields: Mapping[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record_hash(fields: Mapping[str, Any]) -> str:
    """Hash of a record's content (everything but the hash itself), chained through `prev_hash`."""
    content = {k: v for k, v in fields.items() if k != "hash"}
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def seal(fields: dict[str, Any], prev_hash: str) -> dict[str, Any]:
    sealed = {**fields, "prev_hash": prev_hash}
    sealed["hash"] = record_hash(sealed)
    return sealed


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str


def verify_chain(records_oldest_first: Iterable[Mapping[str, Any]]) -> list[ChainProblem]:
    """Walk one prompt's records and report every break: gaps, edits, reordering."""
    problems: list[ChainProblem] = []
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for record in records_oldest_first:
        seq = int(record["seq"])
        if seq != expected_seq:
            problems.append(ChainProblem(seq, f"sequence gap: expected {expected_seq}"))
        if record.get("prev_hash") != expected_prev:
            problems.append(ChainProblem(seq, "prev_hash does not match the previous record"))
        if record_hash(record) != record.get("hash"):
            problems.append(ChainProblem(seq, "content does not match its hash (edited?)"))
        expected_prev = str(record.get("hash"))
        expected_seq = seq + 1
    return problems


def iso_utc(moment: datetime) -> str:
    """The one timestamp format of the ledger: sortable as text, always UTC, microseconds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class ChainAnchor:
    """A chain head written outside the table, write-once (S3 Object Lock): `seq` had `hash`."""

    prompt_key: str
    seq: int
    hash: str


def verify_against_anchors(
    records_oldest_first: Sequence[Mapping[str, Any]], anchors: Iterable[ChainAnchor]
) -> list[ChainProblem]:
    """What `verify_chain` cannot see: a chain cut at its end, or a prompt whose records are all gone.

    Each anchor says the chain once reached `seq` with `hash`; since every hash covers all
    records before it, the chain must still contain that record, unchanged. Records after the
    newest anchor are not covered: `unanchored` lists them.
    """
    by_seq = {int(r["seq"]): r for r in records_oldest_first}
    last = max(by_seq, default=0)
    problems: list[ChainProblem] = []
    anchored = sorted(anchors, key=lambda a: a.seq)
    if not by_seq and not anchored:
        return [ChainProblem(0, "no records and no anchor: no such prompt (mistyped name?)")]
    for anchor in anchored:
        record = by_seq.get(anchor.seq)
        if record is None:
            if anchor.seq > last:
                problems.append(
                    ChainProblem(
                        anchor.seq, f"chain truncated: anchored up to seq {anchor.seq}, table ends at {last}"
                    )
                )
                break
            continue  # a gap in the middle: verify_chain reports it
        if record.get("hash") != anchor.hash:
            problems.append(ChainProblem(anchor.seq, "record differs from its anchored hash (rewritten?)"))
    return problems


# How long a new record may wait for its anchor (the stream consumer's retries) before `verify`
# reports it as a finding rather than as on its way.
ANCHOR_DELAY_TOLERANCE = timedelta(minutes=15)


@dataclass(frozen=True)
class Unanchored:
    """Records newer than the newest anchor: `late` ones are findings, `pending` seqs are recent."""

    late: list[ChainProblem]
    pending: list[int]


def unanchored(
    records_oldest_first: Iterable[Mapping[str, Any]],
    anchors: Iterable[ChainAnchor],
    now: datetime,
    tolerance: timedelta = ANCHOR_DELAY_TOLERANCE,
) -> Unanchored:
    """Every hash covers the records before it, so an anchor vouches for its seq and all below;
    anything above the newest anchor is vouched for by nothing outside the table."""
    newest = max((anchor.seq for anchor in anchors), default=0)
    late: list[ChainProblem] = []
    pending: list[int] = []
    for record in records_oldest_first:
        seq = int(record["seq"])
        if seq <= newest:
            continue
        recorded_at = str(record.get("recorded_at", ""))
        if recorded_at and now - parse_iso_utc(recorded_at) < tolerance:
            pending.append(seq)
        else:
            late.append(ChainProblem(seq, f"not anchored (recorded {recorded_at or 'at an unknown time'})"))
    return Unanchored(late=late, pending=pending)
