"""The one place that decides what a failed attempt becomes: retried, audited, or parked."""

from __future__ import annotations

from dataclasses import dataclass

from prompt_rollback.domain.policy import Outcome
from prompt_rollback.domain.requests import RollbackRequest
from prompt_rollback.errors import ConfigurationError, RollbackInProgress, can_retry
from prompt_rollback.rollback.records import RollbackResult
from prompt_rollback.rollback.service import RollbackService


@dataclass(frozen=True)
class Attempt:
    final: bool
    from_queue: bool

    @classmethod
    def of_delivery(cls, receive_count: int, max_receive_count: int) -> Attempt:
        return cls(final=receive_count >= max_receive_count, from_queue=True)


# Nobody retries a manual invocation for us: its first attempt is its last.
MANUAL = Attempt(final=True, from_queue=False)


class ParkedInDeadLetterQueue(Exception):
    """The last attempt was audited as failed; raised so SQS moves the message to the DLQ."""

    def __init__(self, result: RollbackResult) -> None:
        super().__init__(result.reason)
        self.result = result


def run_attempt(service: RollbackService, request: RollbackRequest, attempt: Attempt) -> RollbackResult:
    """Run one attempt; what a failure becomes:

    - a configuration error (a variable or secret to fix) in a manual invocation propagates
      unaudited: the person is told at once, with the variable's name, and nothing changes; from
      the queue it is retried (someone may fix it meanwhile), and the last attempt audits and
      announces it naming the variable, then parks the message for a redrive once it is fixed;
    - another rollback holding the lock: retried while attempts remain; on the last one audited as
      skipped ("another rollback is in progress"), not as failed;
    - a retryable error (errors.can_retry) with attempts left: raised, so SQS delivers again;
    - otherwise the failure is audited and announced; a retryable one from the queue is then
      parked in the dead-letter queue for a redrive (`ParkedInDeadLetterQueue`).
    """
    try:
        return service.handle(request)
    except ConfigurationError as error:
        if not (attempt.from_queue and attempt.final):
            raise
        raise ParkedInDeadLetterQueue(service.record_failure(request, error)) from error
    except RollbackInProgress as error:
        if not attempt.final:
            raise
        return service.record_lock_lost(request, error)
    except Exception as error:
        retryable = can_retry(error)
        if retryable and not attempt.final:
            raise
        result = service.record_failure(request, error)
        if retryable and attempt.from_queue and result.outcome == Outcome.FAILED.value:
            raise ParkedInDeadLetterQueue(result) from error
        return result
