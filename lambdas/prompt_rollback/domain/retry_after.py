"""Reading an HTTP Retry-After header (RFC 9110): the one parser Slack's and Langfuse's clients share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds to wait (never negative) from a delay or an HTTP date; None without a usable value."""
    raw = next((value for name, value in headers.items() if name.lower() == "retry-after"), None)
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - now).total_seconds())
