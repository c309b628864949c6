"""Every error the rollback path raises on purpose, and whether another attempt can help.

Messages are our own words (plus codes and ids), never a remote service's text or a secret."""

from __future__ import annotations

from typing import ClassVar


class RollbackError(Exception):
    """Base of the taxonomy. `retryable` is what `rollback.attempts.run_attempt` reads: a retryable
    error fails only this attempt (SQS delivers again), any other is audited as failed at once."""

    retryable: ClassVar[bool] = False


class ConfigurationError(RollbackError):
    """A setting is missing or malformed: a deployment problem, never a rollback failure.

    Nothing is audited or announced for it; the person (CLI) or the operator (DLQ alarm) is told
    which variable to fix. Retrying cannot help until someone changes the configuration.
    """

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable} {problem}")
        self.variable = variable
        self.problem = problem


class RegistryError(RollbackError):
    """The prompt registry could not do what was asked."""


class RegistryUnavailable(RegistryError):
    """Down, timing out, throttling or answering 5xx after the client's own retries: try later."""

    retryable = True


class RegistryRejected(RegistryError):
    """The registry said no in a way a retry will not change (404, 400, 401/403)."""


class NotFound(RegistryRejected):
    """The prompt, the version or the label does not exist."""


class VerificationFailed(RegistryError):
    """The move was accepted but production does not read back where it should."""

    retryable = True


class LedgerConflict(RollbackError):
    """Someone else appended to this prompt's ledger first: re-read and decide again."""

    retryable = True


class LedgerUnavailable(RollbackError):
    """The audit ledger refused or failed a call after the client's own retries (throttling, 5xx)."""

    retryable = True


class LedgerRejected(RollbackError):
    """The audit ledger refused a record in a way a retry will not change (validation)."""


class AnchorConflict(RollbackError):
    """A different chain head is already anchored at this seq: the ledger item was rewritten."""


class RollbackInProgress(RollbackError):
    """Another request holds this prompt's intent lock. Not a failure: wait, or say so."""

    retryable = True


class EnqueueFailed(RollbackError):
    """Some requests did not reach the queue: the webhook answers 5xx so Alertmanager retries."""

    retryable = True


def can_retry(error: BaseException) -> bool:
    """Whether another attempt may succeed. Errors outside the taxonomy (a bug, a library's) are
    given the benefit: the last attempt audits them and parks the message anyway."""
    return error.retryable if isinstance(error, RollbackError) else True


def describe(error: BaseException) -> str:
    """An error as safe to show: our own messages carry no secrets, foreign ones only their type."""
    return str(error) if isinstance(error, RollbackError) else type(error).__name__
