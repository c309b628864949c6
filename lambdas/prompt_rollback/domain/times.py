"""Times on the wire: a time written without a UTC offset is read as UTC, so every datetime a
model holds is aware and two of them can always be compared or subtracted (docs/sources.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def as_aware(moment: datetime) -> datetime:
    """`moment` with its own offset, or UTC when it has none."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None or moment.utcoffset() is None else moment


# The type of every datetime field of a model that reads input from outside.
WireTime = Annotated[datetime, AfterValidator(as_aware)]
