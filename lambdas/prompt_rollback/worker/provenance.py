"""Who vouches for a person's action before the worker acts on it: for a queued click, the SQS
SenderId must be the Slack actions function's role; for a CLI action, IAM and the approvers list."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from prompt_rollback import wiring
from prompt_rollback.domain.provenance import Authority, Provenance, sent_by_role
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.observability import logger, metrics


def _request_id(context: LambdaContext | None) -> str:
    return str(getattr(context, "aws_request_id", "") or "")[:100]


def sender_of(record: SQSRecord) -> str:
    """SQS always sets SenderId; an event without it (a hand-made one) is from nobody we know."""
    return str(record.raw_event.get("attributes", {}).get("SenderId") or "")[:200]


def of_queued(record: SQSRecord, context: LambdaContext | None) -> Provenance:
    """A queued click is the Slack actions function's only if that function's role sent it; an
    unset SLACK_ACTIONS_ROLE_ID vouches for nobody."""
    sender = sender_of(record)
    verified = sent_by_role(sender, wiring.settings().slack_actions_role_id)
    return Provenance(
        authority=Authority.SLACK_SIGNATURE if verified else Authority.UNVERIFIED,
        lambda_request_id=_request_id(context),
        caller=sender,
    )


def of_invocation(context: LambdaContext | None, authority: Authority) -> Provenance:
    """A direct invoke: Lambda does not show the caller, so the request id is what joins the record
    to CloudTrail's Invoke event (logged with the caller's identity when data events are on)."""
    return Provenance(authority=authority, lambda_request_id=_request_id(context))


def refuse_forced(request: RollbackRequest, sender: str) -> dict[str, Any]:
    """No producer queues a forced request or one with a provenance (a forced rollback is a direct
    invoke, a click's move runs inside the worker): such a message is forged, and changes nothing."""
    reason = f"a forced rollback request on the queue (sender {sender or 'unknown'}) is not acted on"
    logger.error(
        "refused a queued forced rollback request",
        extra={"rollback_id": request.request_id, "sender": sender},
    )
    metrics.add_metric(name="QueuedForcedRequestsRefused", unit=MetricUnit.Count, value=1)
    return {"outcome": "refused", "reason": reason, "rollback_id": request.request_id, "moved": False}
