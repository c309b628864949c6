"""The watcher, run by EventBridge Scheduler every few minutes (infra/watcher.py): measures each
production prompt version in Langfuse, keeps the triggers' `for:` states in DynamoDB and queues a
rollback request when one has held long enough; a run without data decides nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from prompt_rollback import wiring
from prompt_rollback.observability import logger, metrics
from prompt_rollback.settings import WatcherEnvironment
from prompt_rollback.watcher import wiring as watch_wiring
from prompt_rollback.watcher.service import RunReport, run_once


# Event counters, published only when non-zero: CloudWatch bills a custom metric for every hour
# it receives data, and a quiet watcher (the usual case) then costs no metrics at all. The
# failed-runs alarm reads missing points as zero.
def _account(report: RunReport) -> dict[str, Any]:
    events = {
        "WatcherNoData": int(report.no_data),
        "WatcherFired": len(report.fired),
        "WatcherResolved": len(report.resolved),
        "WatcherSendFailures": report.send_failures,
        "WatcherStateConflicts": report.conflicts,
    }
    for name, count in events.items():
        if count:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
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
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.environment(WatcherEnvironment)
    # The run's instant is now, not the Scheduler's scheduled time: Langfuse answers for now.
    report = run_once(
        datetime.now(UTC),
        observer=watch_wiring.observer(),
        store=watch_wiring.state_store(),
        sender=watch_wiring.signal_sender(),
    )
    return _account(report)
