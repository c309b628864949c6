"""The background refresh: one measurement per interval, never blocking a scrape, which reads the last
good refresh (`current()`). A 429 pushes the next attempt back by its Retry-After."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prompt_rollback.detection import metric_names as m
from prompt_rollback.detection.triggers import EXPORTER_STALE_INTERVALS
from prompt_rollback.measurements import (
    LangfuseQueryRejected,
    LangfuseRateLimited,
    LangfuseUnavailable,
    MeasurementError,
    Measurements,
    MetricsEndpointMissing,
)

logger = logging.getLogger("prompt_rollback_exporter")

Measure = Callable[[datetime], Measurements]


@dataclass(frozen=True)
class Snapshot:
    measurements: Measurements
    refreshed_at: float  # time.time() when the refresh finished


class HealthMetrics:
    """The exporter's own metrics, on the registry /metrics serves."""

    def __init__(self, registry: CollectorRegistry, interval_seconds: float) -> None:
        self.last_success = Gauge(
            m.LAST_SUCCESS,
            "Unix time of the last successful refresh from Langfuse (0: none yet)",
            registry=registry,
        )
        self.interval = Gauge(m.REFRESH_INTERVAL, "Configured refresh interval", registry=registry)
        self.interval.set(interval_seconds)
        self.errors = Counter(m.REFRESH_ERRORS, "Failed refreshes, by reason", ["reason"], registry=registry)
        for reason in ("rate_limited", "rejected_query", "no_metrics_api", "unavailable", "unexpected"):
            self.errors.labels(reason)
        self.duration = Histogram(
            m.REFRESH_DURATION,
            "Time one refresh took, failed or not",
            registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.api_calls = Counter(
            m.API_CALLS,
            "Langfuse API requests, by endpoint and HTTP status",
            ["endpoint", "status"],
            registry=registry,
        )

    def count_call(self, endpoint: str, status: str) -> None:
        self.api_calls.labels(endpoint, status).inc()


class Refresher:
    def __init__(
        self,
        measure: Measure,
        interval_seconds: float,
        health: HealthMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._measure = measure
        self._interval = interval_seconds
        self._health = health
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fatal: str | None = None

    def fatal_problem(self) -> str | None:
        """After a refresh: why this Langfuse can never serve the exporter (no v2 metrics, keys refused)."""
        return self._fatal

    # After a failure the last values stay for at most two refresh intervals from the refresh that
    # produced them, then this answers None and the prompt series go: stale data is never shown as fresh.
    def current(self) -> Measurements | None:
        """The last good measurements, or None once they are older than two refresh intervals."""
        with self._lock:
            snapshot = self._snapshot
        if snapshot is None:
            return None
        if self._clock() - snapshot.refreshed_at > EXPORTER_STALE_INTERVALS * self._interval:
            return None
        return snapshot.measurements

    def refresh_once(self) -> float:
        """One refresh; returns the seconds to wait before the next. Never raises."""
        started = time.monotonic()
        delay = self._interval
        self._fatal = None
        try:
            measurements = self._measure(datetime.now(UTC))
        except LangfuseRateLimited as error:
            self._health.errors.labels("rate_limited").inc()
            if error.retry_after is not None:
                delay = max(delay, error.retry_after)
            logger.warning("%s; next refresh in %.0fs", error, delay)
        except LangfuseQueryRejected as error:
            self._health.errors.labels("rejected_query").inc()
            logger.error("%s", error)
        except MetricsEndpointMissing as error:
            self._health.errors.labels("no_metrics_api").inc()
            self._fatal = str(error)
            logger.error("%s", error)
        except LangfuseUnavailable as error:
            self._health.errors.labels("unavailable").inc()
            if error.status in (401, 403):
                self._fatal = f"{error} (check LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and LANGFUSE_HOST)"
            logger.warning("refresh failed: %s", error)
        except MeasurementError as error:
            self._health.errors.labels("unavailable").inc()
            logger.warning("refresh failed: %s", error)
        except Exception:  # a bug must not end the refresh thread; it is logged and counted
            self._health.errors.labels("unexpected").inc()
            logger.exception("refresh failed unexpectedly")
        else:
            finished = self._clock()
            with self._lock:
                self._snapshot = Snapshot(measurements, finished)
            self._health.last_success.set(finished)
            logger.info(
                "refreshed %d prompt versions with %d Langfuse calls in %.2fs",
                len(measurements.prompts),
                measurements.api_calls,
                time.monotonic() - started,
            )
        finally:
            self._health.duration.observe(time.monotonic() - started)
        return delay

    def start(self, first_delay: float = 0.0) -> None:
        self._thread = threading.Thread(
            target=self._run, args=(first_delay,), name="langfuse-refresh", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, first_delay: float) -> None:
        delay = first_delay
        while not self._stop.wait(delay):
            delay = self.refresh_once()
