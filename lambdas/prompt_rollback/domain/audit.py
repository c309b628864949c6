"""Audit records and their hash chain.

Every decision about a prompt is one immutable record with a per-prompt sequence number and
the SHA-256 of the previous record, so a deleted, edited or reordered record breaks the chain
that `verify_chain` walks. Before touching the registry the worker writes an `intent` record;
it is both the lock that keeps two workers from rolling back the same prompt at once and the
note that lets a retry finish a rollback whose worker died after moving the label.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
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
