"""What can go wrong reading Langfuse, as the exporter and the watcher need to tell it apart."""

from __future__ import annotations


class MeasurementError(Exception):
    """Langfuse could not be read this time; the message says why (never a credential)."""


class LangfuseRateLimited(MeasurementError):
    """429: wait `retry_after` seconds (None when Langfuse sent no usable Retry-After)."""

    def __init__(self, endpoint: str, retry_after: float | None) -> None:
        wait = f"retry after {retry_after:g}s" if retry_after is not None else "no Retry-After"
        super().__init__(f"Langfuse rate-limited {endpoint} ({wait})")
        self.endpoint = endpoint
        self.retry_after = retry_after


class LangfuseQueryRejected(MeasurementError):
    """400: Langfuse refused a metrics query (e.g. a high-cardinality dimension); its message kept."""

    def __init__(self, view: str, message: str) -> None:
        super().__init__(f"Langfuse rejected the {view} metrics query: {message}")
        self.view = view
        self.message = message


class MetricsEndpointMissing(MeasurementError):
    """404 on GET /api/public/v2/metrics: the server predates it (self-hosted Langfuse before v4)."""

    def __init__(self) -> None:
        super().__init__(
            "this Langfuse server has no GET /api/public/v2/metrics (404): the exporter needs the v2 "
            "metrics API of Langfuse Cloud or self-hosted Langfuse v4 or later"
        )


class LangfuseUnavailable(MeasurementError):
    """Any other failure: a 5xx, 401/403, a timeout, a connection error, an unreadable body."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, None when there was no answer
