"""What the watcher's run needs from the outside: the stored `for:` states and a way to signal.

Implemented by adapters/watch_state_store.py (DynamoDB) and adapters/watch_signals.py (the
rollback queue, through the webhook's intake).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from prompt_rollback.domain.watch import Observation, Signal, WatchState


class NoData(Exception):
    """Langfuse did not answer usefully (down, 429, 5xx, rejected query): this run decides nothing."""


@dataclass(frozen=True)
class Observed:
    observations: list[Observation]
    langfuse_calls: int


class Observer(Protocol):
    def observe(self, now: datetime) -> Observed:
        """Every trigger of every production prompt version at `now`, or NoData."""
        ...


class StateConflict(Exception):
    """Another run changed this state first (overlapping runs): this run leaves the key alone."""


class WatchStateStore(Protocol):
    def load_all(self) -> list[WatchState]: ...

    def save(self, state: WatchState, expected_revision: int) -> WatchState:
        """Write `state` if the stored revision is still `expected_revision` (0: absent); the
        returned state carries the new revision. Raises StateConflict otherwise."""
        ...

    def delete(self, state: WatchState) -> None:
        """Delete `state` if it is still at its revision. Raises StateConflict otherwise."""
        ...


class SignalSender(Protocol):
    def send(self, signals: Sequence[Signal]) -> None:
        """Deliver every signal or raise: an unsent signal stays in its state's outbox."""
        ...
