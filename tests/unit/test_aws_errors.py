"""AWS errors sorted into what a retry can fix and what it cannot: botocore's error objects, no AWS."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError, ReadTimeoutError
from prompt_rollback.adapters.aws_errors import call_aws, registry_error
from prompt_rollback.errors import NotFound, RegistryRejected, RegistryUnavailable


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "arn:aws:bedrock:... is not yours"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "UpdateAgentAlias",
    )


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("ThrottlingException", 429, RegistryUnavailable),
        ("TooManyUpdates", 400, RegistryUnavailable),
        ("ConflictException", 409, RegistryUnavailable),
        ("InternalServerException", 500, RegistryUnavailable),
        ("", 503, RegistryUnavailable),
        ("ResourceNotFoundException", 404, NotFound),
        ("ParameterNotFound", 400, NotFound),
        ("ValidationException", 400, RegistryRejected),
        ("AccessDeniedException", 403, RegistryRejected),
        ("ParameterMaxVersionLimitExceeded", 400, RegistryRejected),
    ],
)
def test_client_errors_are_sorted_by_code_and_status(code, status, kind):
    error = registry_error("UpdateAgentAlias agent A alias B", client_error(code, status))
    assert type(error) is kind
    # AWS's own message (ARNs, account ids) stays out: the text ends up in Slack.
    assert "is not yours" not in str(error)
    assert str(error).startswith(f"UpdateAgentAlias agent A alias B: {code or f'HTTP {status}'}")


def test_the_hints_say_what_to_do():
    assert "CDK context" in str(registry_error("x", client_error("AccessDeniedException", 403)))
    assert "move that label" in str(
        registry_error("x", client_error("ParameterMaxVersionLimitExceeded", 400))
    )


def test_transport_errors_are_retryable_and_a_malformed_request_is_not():
    def fail(error: Exception) -> None:
        raise error

    with pytest.raises(RegistryUnavailable, match="EndpointConnectionError"):
        call_aws("GetParameter p", fail, EndpointConnectionError(endpoint_url="https://ssm"))
    with pytest.raises(RegistryUnavailable, match="ReadTimeoutError"):
        call_aws("GetParameter p", fail, ReadTimeoutError(endpoint_url="https://ssm"))
    with pytest.raises(RegistryRejected, match="ParamValidationError"):
        call_aws("GetParameter p", fail, ParamValidationError(report="Name is required"))
    assert call_aws("GetParameter p", lambda value: value, "fine") == "fine"
