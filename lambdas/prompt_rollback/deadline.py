"""How long the work in hand may still take: the worker sets a deadline per record from the Lambda's
remaining time, and clients that wait (Langfuse's retries) read it and give up while there is time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The worker gives each SQS record a deadline (Langfuse's waits and timeouts end by it): at most
# RECORD_SECONDS, and always FAILURE_RESERVE_SECONDS before the function's timeout, which a last
# attempt's audit and Slack "failed" notice need. A record with less than MIN_RECORD_SECONDS is
# not started (infra/rollback_worker.py sizes the batch with these).
RECORD_SECONDS = 30.0
FAILURE_RESERVE_SECONDS = 10.0
MIN_RECORD_SECONDS = 5.0
# A healthy rollback (9 network calls, README "Network calls"), with room to spare.
HEALTHY_RECORD_SECONDS = 2.0

_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Run the block with a deadline `seconds` from now (time.monotonic)."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def seconds_left() -> float | None:
    """Seconds until the deadline (negative once past it), or None outside any deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def record_seconds(remaining_seconds: float) -> float | None:
    """How long the next record may take, or None when there is no time to start it."""
    available = remaining_seconds - FAILURE_RESERVE_SECONDS
    return None if available < MIN_RECORD_SECONDS else min(available, RECORD_SECONDS)
