"""The newest records of ours by request id, carried in the guard summary, and since when that list
misses none: within it, a request's own records are known without the request-id index."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prompt_rollback.domain.audit import parse_iso_utc

# Intents, decisions and followups: the records a request id names (audit_record.RecordKind).
OUR_KINDS = frozenset({"intent", "decision", "followup"})
# Every chain item carries the list: ~40 bytes an entry, so it stays a few KB.
KEEP_LISTED = 64
GENESIS = datetime.fromtimestamp(0, UTC)  # a list folded from the first record misses nothing


@dataclass(frozen=True)
class ListedRecord:
    request_id: str
    seq: int
    at: int  # recorded_at in whole seconds since the epoch, rounded up


@dataclass(frozen=True)
class RequestIndex:
    listed: tuple[ListedRecord, ...] = ()  # newest first
    # Every record of ours recorded after this time is listed. None: not known, as in a summary
    # written before the list was kept, until it is advanced over a record.
    complete_after: datetime | None = GENESIS

    def seqs_of(self, request_id: str, recorded_after: datetime) -> tuple[int, ...] | None:
        """The seqs of `request_id`'s records, newest first, when all of them were recorded after
        `recorded_after` and the list is whole since then; None when the list cannot tell."""
        if self.complete_after is None or self.complete_after >= recorded_after:
            return None
        return tuple(r.seq for r in self.listed if r.request_id == request_id)

    def advanced(self, item: Mapping[str, Any]) -> RequestIndex:
        """The list once `item` (a stored record with its seq, any kind) is appended."""
        at = _seconds(item.get("recorded_at"))
        ours = item.get("kind") in OUR_KINDS and bool(item.get("request_id"))
        if at is None:
            # Undated (not expected): one of ours could not be placed, so the list says nothing.
            return RequestIndex(self.listed, None) if ours else self
        # A summary that did not keep the list knows nothing before this record.
        complete_after = self.complete_after or _time(at)
        if not ours:
            return RequestIndex(self.listed, complete_after)
        listed = (ListedRecord(str(item["request_id"]), int(item.get("seq") or 0), at), *self.listed)
        dropped = listed[KEEP_LISTED:]
        if dropped:
            complete_after = max(complete_after, _time(max(r.at for r in dropped)))
        return RequestIndex(listed[:KEEP_LISTED], complete_after)

    def to_item(self) -> dict[str, Any]:
        # Lists, not maps: no attribute names repeated in every entry of every chain item.
        return {
            "requests": [[r.request_id, r.seq, r.at] for r in self.listed],
            "requests_complete_after": None
            if self.complete_after is None
            else _seconds_of(self.complete_after),
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> RequestIndex:
        after = item.get("requests_complete_after")
        return cls(
            tuple(ListedRecord(str(r[0]), int(r[1]), int(r[2])) for r in item.get("requests") or ()),
            None if after is None else _time(int(after)),
        )


def _seconds(value: Any) -> int | None:
    return _seconds_of(parse_iso_utc(value)) if isinstance(value, str) and value else None


def _seconds_of(at: datetime) -> int:
    # Rounded up: a bound moved to a dropped record's time is never before that record.
    return math.ceil(at.timestamp())


def _time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
