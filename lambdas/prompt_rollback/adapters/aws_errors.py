"""AWS API errors as registry errors: what a retry can fix (throttling, 5xx, timeouts) and what it cannot.
An error here has outlived the clients' own retries (botocore standard mode, `wiring.AWS_CLIENT_CONFIG`).
Messages carry the error code and our own hint, never AWS's free text: they end up in Slack."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from prompt_rollback.errors import NotFound, RegistryError, RegistryRejected, RegistryUnavailable

T = TypeVar("T")
P = ParamSpec("P")

_NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"})
_RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailableException",
        "InternalServerException",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
        # Bedrock: another update of the same alias is in progress. SSM: concurrent writes.
        "ConflictException",
        "TooManyUpdates",
    }
)
_HINTS = {
    "AccessDeniedException": "the worker role may not do this: check the Bedrock CDK context keys",
    "ParameterMaxVersionLimitExceeded": (
        "the parameter holds 100 versions and the oldest carries a label: move that label, then retry"
    ),
}


def registry_error(what: str, error: ClientError) -> RegistryError:
    """The registry error for a failed AWS call; `what` says which call, for Slack and the audit."""
    code = str(error.response.get("Error", {}).get("Code", "") or "")
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    described = code or f"HTTP {status}"
    hint = _HINTS.get(code)
    message = f"{what}: {described}" + (f" ({hint})" if hint else "")
    if code in _NOT_FOUND_CODES or (not code and status == 404):
        return NotFound(message)
    if code in _RETRYABLE_CODES or status >= 500 or status == 429:
        return RegistryUnavailable(message)
    return RegistryRejected(message)


def call_aws(what: str, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`call(*args, **kwargs)`, one AWS call, with its failure turned into a registry error."""
    try:
        return call(*args, **kwargs)
    except ClientError as error:
        raise registry_error(what, error) from error
    except ParamValidationError as error:
        # Our request does not fit the service model: a bug a retry cannot fix.
        raise RegistryRejected(f"{what}: {type(error).__name__}") from error
    except BotoCoreError as error:
        # Connection refused, read timeout, no credentials yet (a cold start racing the role):
        # nothing the request itself got wrong.
        raise RegistryUnavailable(f"{what}: {type(error).__name__}") from error


def all_items(
    what: str, client: Any, operation: str, result_key: str, page_size: int, **params: Any
) -> list[Any]:
    """Every item of a paginated AWS listing, through botocore's paginator for `operation`."""

    def collect() -> list[Any]:
        pages = client.get_paginator(operation).paginate(**params, PaginationConfig={"PageSize": page_size})
        return [item for page in pages for item in page[result_key]]

    return call_aws(what, collect)
