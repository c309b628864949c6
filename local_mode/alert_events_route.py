"""POST /events in local mode: replay an SNS or EventBridge event into the alert-events handler.

The deployed function is invoked by SNS (AMP) and EventBridge (CloudWatch alarms); locally
there is neither, so this route hands the event you post to the same handler, e.g.

    curl -s -H "Authorization: Bearer local-dev-token" -H "Content-Type: application/json" \\
      --data @tests/fixtures/sources/cloudwatch-alarm-prompt.json http://127.0.0.1:8080/events

It answers 200 with the handler's result (what was queued, what was skipped and why), 422 for an
event of another shape (which the deployed function would retry and then dead-letter), 503 when
the queue is unreachable.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from local_mode.lambda_runtime import LocalLambdaContext

EVENTS_PATH = "/events"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def replay_event(
    headers: Mapping[str, str], body: bytes, token: str, handler: Handler
) -> tuple[int, dict[str, Any]]:
    """(status, JSON answer) for one posted event; the Bearer token is checked before the body."""
    from prompt_rollback.sources.events_handler import UnrecognisedEvent

    authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
        return 401, {"error": "missing or invalid Bearer token"}
    try:
        event = json.loads(body)
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
