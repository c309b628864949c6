"""One ledger stream event at a time: an INSERT's chain head is anchored; a MODIFY or REMOVE is not
something the application ever does, so it is reported, never anchored (the old anchor stands)."""

from __future__ import annotations

from typing import Literal

from prompt_rollback.domain.audit import ChainAnchor
from prompt_rollback.domain.ledger_events import LedgerItemEvent
from prompt_rollback.ports import ChainAnchors

AnchorOutcome = Literal["anchored", "history_rewritten"]


class AnchorWriter:
    def __init__(self, anchors: ChainAnchors) -> None:
        self._anchors = anchors

    def handle(self, event: LedgerItemEvent) -> AnchorOutcome:
        """Raises when the anchor cannot be written: the stream record is then retried."""
        if event.rewrites_history:
            return "history_rewritten"
        if not event.hash:
            raise ValueError(f"{event.prompt_key} seq {event.seq} was inserted without a hash")
        self._anchors.anchor(ChainAnchor(event.prompt_key, event.seq, event.hash))
        return "anchored"
