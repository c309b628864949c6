"""What the ledger table's stream says happened to one item. The ledger is append-only: an INSERT
is a new chain record to anchor; a MODIFY or REMOVE is someone rewriting the evidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LedgerEventName = Literal["INSERT", "MODIFY", "REMOVE"]


@dataclass(frozen=True)
class LedgerItemEvent:
    event_name: LedgerEventName
    prompt_key: str
    seq: int
    # The item's hash after the change; None when it was removed (or carries none).
    hash: str | None

    @property
    def rewrites_history(self) -> bool:
        return self.event_name != "INSERT"
