"""PagerDuty's Events API v2 through python-pagerduty's EventsApiV2Client: incidents, their
resolution and change events. A failure is an outcome (logged, counted in PagerDutyFailures),
never raised; the routing key never reaches a log or the audit record."""

from __future__ import annotations

import re
import ssl
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from prompt_rollback.domain.paging import ChangeEvent, Incident, PagerReport
from prompt_rollback.observability import logger, metrics

if TYPE_CHECKING:
    from pagerduty import errors as pagerduty_errors

EVENTS_API_URL = "https://events.pagerduty.com"
# An Events API v2 integration (routing) key is 32 letters and digits; the CDK app's placeholder
# is shorter, so a deployment whose secret was never set is `not_configured`, not a failure.
ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{32}$")
# The client retries 429 without limit and 5xx up to 6 times with doubling waits (minutes in
# all); a rollback waits at most RETRIES more attempts of each, FIRST_WAIT_SECONDS * 2, * 4, ...
RETRIES = 2
FIRST_WAIT_SECONDS = 0.5
TIMEOUT_SECONDS = 5
_RETRIED_STATUSES = (429, 500, 502, 503, 504)


def usable_routing_key(key: str) -> bool:
    return bool(ROUTING_KEY.match(key))


class PagerDutyPager:
    def __init__(
        self,
        routing_key: str,
        base_url: str = EVENTS_API_URL,
        *,
        ca_file: str = "",
        first_wait_seconds: float = FIRST_WAIT_SECONDS,
    ) -> None:
        # Loaded only where a usable key is: a deployment that keeps the CDK app's placeholder
        # (UnconfiguredPager) never pays for the client on its first rollback.
        from pagerduty import EventsApiV2Client

        # A private CA (local mode's stand-in) is trusted through the client's own `verify`:
        # the client accepts https base URLs only.
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        client = EventsApiV2Client(routing_key, base_url=base_url, verify=verify)
        client.timeout = TIMEOUT_SECONDS
        client.sleep_timer = first_wait_seconds / client.sleep_timer_base  # multiplied before each wait
        client.max_network_attempts = RETRIES
        for status in _RETRIED_STATUSES:
            client.retry[status] = RETRIES
        self._client = client

    def trigger(self, incident: Incident) -> PagerReport:
        return self._send(
            "triggered",
            incident.dedup_key,
            lambda: self._client.trigger(
                incident.summary,
                incident.source,
                dedup_key=incident.dedup_key,
                severity=incident.severity,
                custom_details=dict(incident.details),
            ),
        )

    def resolve(self, dedup_key: str) -> PagerReport:
        return self._send("resolved", dedup_key, lambda: self._client.resolve(dedup_key))

    def record_change(self, event: ChangeEvent) -> PagerReport:
        # The event's own timestamp, always: the client's default one fails in python-pagerduty 7.2.
        return self._send(
            "sent",
            "",
            lambda: self._client.submit(
                event.summary, event.source, custom_details=dict(event.details), timestamp=event.timestamp
            ),
        )

    def _send(self, done: str, dedup_key: str, call: Any) -> PagerReport:
        from pagerduty import errors as pagerduty_errors  # loaded by __init__ already

        try:
            answered = call()
        except pagerduty_errors.Error as error:
            return _failed(dedup_key, _described(error))
        except Exception as error:  # whatever else breaks, the rollback goes on
            return _failed(dedup_key, type(error).__name__)
        return PagerReport(done, "", answered if isinstance(answered, str) else dedup_key)


class UnconfiguredPager:
    """No routing key (or the CDK app's placeholder): nothing is sent and nothing fails."""

    def trigger(self, incident: Incident) -> PagerReport:
        return PagerReport("not_configured", dedup_key=incident.dedup_key)

    def resolve(self, dedup_key: str) -> PagerReport:
        return PagerReport("not_configured", dedup_key=dedup_key)

    def record_change(self, event: ChangeEvent) -> PagerReport:
        return PagerReport("not_configured")


def _described(error: pagerduty_errors.Error) -> str:
    """The status and PagerDuty's own message; the client's text may carry the key's last characters."""
    response = getattr(error, "response", None)
    if response is None:
        cause = f" ({type(error.__cause__).__name__})" if error.__cause__ is not None else ""
        return f"no answer from PagerDuty{cause}"
    try:
        message = str(response.json().get("message", ""))[:200]
    except Exception:  # not JSON (a proxy's error page): the status says enough
        message = ""
    return f"HTTP {response.status_code}" + (f": {message}" if message else "")


def _failed(dedup_key: str, detail: str) -> PagerReport:
    logger.warning("PagerDuty was not told", extra={"pagerduty_error": detail, "dedup_key": dedup_key})
    metrics.add_metric(name="PagerDutyFailures", unit=MetricUnit.Count, value=1)
    return PagerReport("failed", detail, dedup_key)
