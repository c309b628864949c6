"""POST /events in local mode: replay an SNS or EventBridge event into the alert-events handler,
as SNS (AMP) and EventBridge (CloudWatch alarms) would invoke the deployed function (docs/sources.md,
"Replaying an event"). 200 with the handler's result, 422 for another shape, 503 if the queue is down."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json

from local_mode.lambda_runtime import LocalLambdaContext

EVENTS_PATH = "/events"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


# 422 stands for what the deployed function would retry and then dead-letter.
def replay_event(
    headers: Mapping[str, str], body: bytes, token: str, handler: Handler
) -> tuple[int, dict[str, Any]]:
    """(status, JSON answer) for one posted event; the Bearer token is checked before the body."""
    from prompt_rollback.sources.events_handler import UnrecognisedEvent

    authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
        return 401, {"error": "missing or invalid Bearer token"}
    try:  # pydantic's JSON parser: bounded nesting, unlike json.loads (RecursionError)
        event = from_json(body)
    except ValueError:
        return 400, {"error": "body is not valid JSON"}
    if not isinstance(event, dict):
        return 422, {"error": "expected an SNS or EventBridge event object"}
    try:
        return 200, handler(event, LocalLambdaContext("alert-events", timeout_seconds=30))
    except (ValidationError, UnrecognisedEvent) as error:
        return 422, {
            "error": f"not an SNS notification or a CloudWatch alarm state change ({type(error).__name__})"
        }
    except Exception as error:
        return 503, {"error": f"could not queue rollback requests ({type(error).__name__}), retry later"}
