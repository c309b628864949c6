"""JSON error answers (`{"error": message, ...}`) and the one place each error becomes one.
Handlers raise `Problem` (or let a `ConfigurationError` through); `answer_problems(app)` maps
both to responses, so no route returns a response-or-error union."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from pydantic import ValidationError

from prompt_rollback.errors import ConfigurationError
from prompt_rollback.observability import logger

MAX_VALIDATION_DETAILS = 20


class Problem(Exception):
    """A request refused with an HTTP status and our own words (never the sender's input)."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def problem(status: int, message: str, **extra: Any) -> Response[Any]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body={"error": message, **extra}
    )


def dotted(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def validation_details(
    error: ValidationError, location: Callable[[tuple[int | str, ...], str], str] | None = None
) -> list[dict[str, str]]:
    """Locations and messages only: echoing the offending input back would reflect untrusted text."""
    return [
        {"loc": location(e["loc"], e["type"]) if location else dotted(e["loc"]), "msg": e["msg"]}
        for e in error.errors(include_url=False, include_input=False)
    ]


def invalid_body(
    error: ValidationError,
    expected: str,
    location: Callable[[tuple[int | str, ...], str], str] | None = None,
) -> Response[Any]:
    """400 for a body that is not JSON at all, 422 (with where) for JSON of the wrong shape."""
    if any(e["type"] == "json_invalid" for e in error.errors()):
        return problem(400, "body is not valid JSON")
    return problem(422, expected, details=validation_details(error, location)[:MAX_VALIDATION_DETAILS])


def answer_problems(app: APIGatewayRestResolver) -> None:
    """Register the answers every HTTP function gives to a refused request and to a misconfiguration."""

    @app.exception_handler(Problem)  # type: ignore[untyped-decorator]
    def refused(error: Problem) -> Response[Any]:
        return problem(error.status, error.message, **error.extra)

    @app.exception_handler(ConfigurationError)  # type: ignore[untyped-decorator]
    def misconfigured(error: ConfigurationError) -> Response[Any]:
        # 503: the sender retries, and the alarm on 5xx tells the operator which variable to fix.
        logger.error("configuration error", extra={"variable": error.variable, "detail": str(error)})
        return problem(503, "service not configured, retry later")
