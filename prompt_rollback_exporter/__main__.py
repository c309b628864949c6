"""`prompt-rollback-exporter` (or `python -m prompt_rollback_exporter`): serve /metrics.
Bad settings exit 2 with each problem named; one foreground refresh first reports a server without the v2
metrics API or wrong keys at once (exit 3); then serve and refresh in the background until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import datetime
from types import FrameType

from prometheus_client import CollectorRegistry, disable_created_metrics, start_http_server
from prompt_rollback.measurements import Measurements, measure
from prompt_rollback.measurements.client import langfuse_api
from pydantic import ValidationError

from prompt_rollback_exporter.collector import PromptCollector
from prompt_rollback_exporter.refresher import HealthMetrics, Refresher, logger
from prompt_rollback_exporter.settings import ExporterSettings, describe

EXIT_BAD_SETTINGS = 2
EXIT_LANGFUSE_UNUSABLE = 3


def build(settings: ExporterSettings) -> tuple[CollectorRegistry, Refresher]:
    """The registry /metrics serves and the refresher feeding it (not started)."""
    api = langfuse_api(
        settings.langfuse_host,
        settings.langfuse_public_key,
        settings.langfuse_secret_key.get_secret_value(),
        sdk_name="prompt-rollback-exporter",
        timeout_seconds=settings.request_timeout.total_seconds(),
    )
    measurement_settings = settings.measurement_settings()
    # `*_created` series only add noise to an exporter's counters.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry()
    health = HealthMetrics(registry, settings.refresh_interval.total_seconds())

    def read(now: datetime) -> Measurements:
        return measure(api, measurement_settings, now, on_call=health.count_call)

    refresher = Refresher(read, settings.refresh_interval.total_seconds(), health)
    registry.register(PromptCollector(refresher, settings.environment))
    return registry, refresher


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="prompt-rollback-exporter",
        description="Serve Langfuse's per-prompt-version measurements as Prometheus metrics.",
        epilog="Settings are environment variables: LANGFUSE_HOST, LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY "
        "and PROMPT_ROLLBACK_EXPORTER_* (LISTEN, REFRESH_INTERVAL, EXACT_MATCH_SCORE, FEEDBACK_SCORE, "
        "THUMBS_DOWN_VALUE, OBSERVATION_WINDOW, SCORE_WINDOW, BASELINE_WINDOW, ENVIRONMENT, "
        "REQUEST_TIMEOUT, CANDIDATE_LABEL); see docs/detection.md. "
        "Exit 2: bad settings; 3: Langfuse cannot serve it.",
    )
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = ExporterSettings()  # type: ignore[call-arg]  # fields come from the environment
    except ValidationError as error:
        print(f"prompt-rollback-exporter: {describe(error)}", file=sys.stderr)
        return EXIT_BAD_SETTINGS

    registry, refresher = build(settings)
    delay = refresher.refresh_once()
    problem = refresher.fatal_problem()
    if problem is not None:
        print(f"prompt-rollback-exporter: {problem}", file=sys.stderr)
        return EXIT_LANGFUSE_UNUSABLE

    server, thread = start_http_server(settings.port, settings.host, registry=registry)
    logger.info(
        "serving /metrics on http://%s:%d, reading %s every %.0fs",
        settings.host,
        server.server_port,
        settings.langfuse_host,
        settings.refresh_interval.total_seconds(),
    )
    refresher.start(first_delay=delay)
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        del frame
        logger.info("received signal %d, stopping", signum)
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stopped.wait()
    refresher.stop()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
