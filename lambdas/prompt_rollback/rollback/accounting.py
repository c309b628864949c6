"""The worker's metrics for one decision: what the alarms and the dashboard count."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from prompt_rollback.domain.policy import Outcome
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.observability import logger, metrics

_OUTCOME_METRICS = {
    "rolled_back": "RollbacksDone",
    "skipped": "RollbacksSkipped",
    "failed": "RollbacksFailed",
    "dry_run": "RollbacksDryRun",
    "proposed": "RollbacksProposed",
    "needs_person": "RollbacksNeedPerson",
}
# Both mean "people were not told": an alarm watches SlackFailures (infra/monitoring.py).
_SLACK_NOT_DELIVERED = frozenset({"failed", "not_configured"})


def account(result: dict[str, Any], request: RollbackRequest) -> dict[str, Any]:
    if result.get("replayed"):  # counted when it was decided
        logger.info("repeated request answered from its first decision", extra=result)
        return result
    metrics.add_metric(
        name=_OUTCOME_METRICS.get(result["outcome"], "RollbacksSkipped"), unit=MetricUnit.Count, value=1
    )
    if result["outcome"] == Outcome.ROLLED_BACK.value and request.trigger is not None:
        seconds = (datetime.now(UTC) - request.trigger.starts_at).total_seconds()
        metrics.add_metric(name="AlertToRollbackSeconds", unit=MetricUnit.Seconds, value=max(seconds, 0.0))
    if result.get("slack") in _SLACK_NOT_DELIVERED:
        metrics.add_metric(name="SlackFailures", unit=MetricUnit.Count, value=1)
    logger.info("rollback decision", extra={"rollback_id": request.request_id, **result})
    return result
