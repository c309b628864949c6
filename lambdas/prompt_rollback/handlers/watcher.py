"""The watcher, invoked by EventBridge Scheduler every few minutes (infra/watcher.py).

Each run measures every production prompt version in Langfuse with the exporter's own queries,
applies the triggers of detection/triggers.py, keeps their `for:` states in DynamoDB and queues a
rollback request, shaped like an Alertmanager alert, when one has held long enough. A run
without data from Langfuse decides nothing and says so (WatcherNoData); the alarm after N such
runs is in the CDK construct.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from prompt_rollback import watch_wiring
from prompt_rollback.observability import logger, metrics, tracer
from prompt_rollback.watch_run import RunReport, run_once


def _account(report: RunReport) -> dict[str, Any]:
    counts = {
        "WatcherNoData": int(report.no_data),
        "WatcherFired": len(report.fired),
        "WatcherResolved": len(report.resolved),
        "WatcherRequestsQueued": len(report.queued_request_ids),
        "WatcherStateConflicts": report.conflicts,
        "WatcherSendFailures": report.send_failures,
        "WatcherPending": report.pending,
        "WatcherFiring": report.firing,
        "WatcherLangfuseCalls": report.langfuse_calls,
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    summary: dict[str, Any] = {
        "no_data": report.no_data_reason,
        "langfuse_calls": report.langfuse_calls,
        "pending": report.pending,
        "firing": report.firing,
        "fired": [f"{s.key.prompt_name} v{s.key.prompt_version} {s.key.trigger}" for s in report.fired],
        "resolved": [f"{s.key.prompt_name} v{s.key.prompt_version} {s.key.trigger}" for s in report.resolved],
        "queued": report.queued_request_ids,
        "skipped": [{"fingerprint": s.fingerprint, "reason": s.reason} for s in report.skipped],
        "conflicts": report.conflicts,
        "send_failures": report.send_failures,
    }
    if report.no_data:
        logger.warning("watcher run without data: nothing fired or cleared", extra=summary)
    else:
        logger.info("watcher run", extra=summary)
    return summary


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The run's instant is now, not the Scheduler's scheduled time: Langfuse answers for now.
    report = run_once(
        datetime.now(UTC),
        observer=watch_wiring.observer(),
        store=watch_wiring.state_store(),
        sender=watch_wiring.signal_sender(),
    )
    return _account(report)
