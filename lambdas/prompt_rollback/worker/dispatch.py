"""Each message kind to the feature that handles it: rollback requests to the rollback service,
clicks, resolutions and recovery checks to the interaction service (whose moves are rollbacks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, assert_never

from aws_lambda_powertools.metrics import MetricUnit

from prompt_rollback.domain.interactions import CliAction, RecoveryCheck, SlackAction
from prompt_rollback.domain.policy import Outcome
from prompt_rollback.domain.provenance import Authority, Provenance
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.domain.resolutions import ResolutionSignal
from prompt_rollback.domain.rollout_messages import (
    RolloutClick,
    RolloutCommand,
    RolloutLabelStart,
    RolloutTick,
)
from prompt_rollback.observability import logger, metrics
from prompt_rollback.rollback import wiring as rollback_wiring
from prompt_rollback.rollback.accounting import account
from prompt_rollback.rollback.attempts import Attempt, ParkedInDeadLetterQueue, run_attempt
from prompt_rollback.rollback.records import UNDO_PREFIX
from prompt_rollback.slack import wiring as slack_wiring
from prompt_rollback.slack.service import InteractionResult, InteractionService
from prompt_rollback.worker.messages import WorkerMessage

if TYPE_CHECKING:
    from prompt_rollback.rollout.service import RolloutService


def dispatch(
    message: WorkerMessage, attempt: Attempt, provenance: Provenance | None = None
) -> dict[str, Any]:
    """What the worker answers for one message (the batch's record result, the CLI's output); a
    person's action without a `provenance` is acted on by nobody's authority, so not at all."""
    match message:
        case RollbackRequest():
            logger.append_keys(rollback_id=message.request_id, prompt_name=message.prompt_name)
            return run_rollback(message, attempt)
        case SlackAction() | CliAction():
            logger.append_keys(action_id=message.action_id, rollback_id=message.rollback_id)
            vouched = provenance or Provenance(authority=Authority.UNVERIFIED)
            return _answer([_interactions(attempt).handle_action(message, vouched)])
        case ResolutionSignal():
            return _answer(_interactions(attempt).handle_resolution(message))
        case RecoveryCheck():
            return _answer([_interactions(attempt).handle_check(message)])
        case RolloutTick() | RolloutCommand() | RolloutLabelStart():
            return _rollout(message)
        case RolloutClick():
            logger.append_keys(action_id=message.action_id, rollout_id=message.rollout_id)
            vouched = provenance or Provenance(authority=Authority.UNVERIFIED)
            answer = _rollout_service().click(message, vouched.verified, vouched.caller)
            logger.info("rollout click handled", extra={"outcome": answer.outcome, "answer": answer.answer})
            return answer.as_dict()
        case _:
            assert_never(message)


def run_rollback(request: RollbackRequest, attempt: Attempt) -> dict[str, Any]:
    try:
        result = run_attempt(rollback_wiring.rollback_service(), request, attempt)
    except ParkedInDeadLetterQueue as parked:
        logger.error("rollback failed on its last attempt: parked in the DLQ", extra=parked.result.as_dict())
        metrics.add_metric(name="RollbacksFailed", unit=MetricUnit.Count, value=1)
        raise
    answer = account(result.as_dict(), request)
    if not result.replayed:
        _schedule_check(answer, request)
    return answer


def _schedule_check(result: dict[str, Any], request: RollbackRequest) -> None:
    """A rollback gets its recovery check, a proposal its expiry check (adapters/recovery_scheduler.py)."""
    if result["outcome"] not in (Outcome.ROLLED_BACK.value, Outcome.PROPOSED.value):
        return
    if request.request_id.startswith(UNDO_PREFIX):
        return  # an undo restores what people had before: there is no alert to recover from
    try:
        slack_wiring.schedule_check(request, result["outcome"])
    except Exception:  # the rollback stands; the missing check is counted and alarmed on
        logger.exception("could not schedule the recovery check", extra={"rollback_id": request.request_id})
        metrics.add_metric(name="RecoveryCheckNotScheduled", unit=MetricUnit.Count, value=1)


def _interactions(attempt: Attempt) -> InteractionService:
    """The moves a click asks for are rollback requests of their own (deterministic ids), run
    like any other, in this same attempt."""
    return slack_wiring.interaction_service(lambda request: run_rollback(request, attempt))


def _answer(results: Sequence[InteractionResult]) -> dict[str, Any]:
    for result in results:
        metrics.add_metric(name=slack_wiring.people_metric(result.outcome), unit=MetricUnit.Count, value=1)
        logger.info("people-in-the-loop message handled", extra=result.as_dict())
    return results[0].as_dict() if len(results) == 1 else {"results": [r.as_dict() for r in results]}


def _rollout_service() -> RolloutService:
    # Imported on the first rollout message: a container that only rolls back never loads the
    # rollout plans and canary statistics.
    from prompt_rollback.rollout import wiring as rollout_wiring

    return rollout_wiring.rollout_service()


def _rollout(message: RolloutTick | RolloutCommand | RolloutLabelStart) -> dict[str, Any]:
    """A tick or a person's command, on the prompt's message group like its rollbacks and clicks."""
    logger.append_keys(prompt_name=message.prompt_name)
    service = _rollout_service()
    if isinstance(message, RolloutTick):
        answer = service.tick(message)
    elif isinstance(message, RolloutLabelStart):
        answer = service.start_from_label(message)
    else:
        answer = service.handle(message)
    logger.info("rollout message handled", extra={"outcome": answer.outcome, "answer": answer.answer})
    if answer.langfuse_calls:
        metrics.add_metric(name="RolloutAnalysisCalls", unit=MetricUnit.Count, value=answer.langfuse_calls)
    return answer.as_dict()
