"""PagerDuty's Events API v2 on loopback, over HTTPS (the client takes https URLs only) with a
certificate from a throwaway CA. Local mode embeds it given PAGERDUTY_ROUTING_KEY and prints each
event; the tests drive the real client against it, 429 and 5xx included."""

from __future__ import annotations

import json
import ssl
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import trustme

from local_mode.loopback import LoopbackServer

ROUTING_KEY = "R0UT1NGKEY0LOCAL0PAGERDUTY000001"  # a demo key: 32 letters and digits, as PagerDuty issues
EVENTS_PATH, CHANGES_PATH = "/v2/enqueue", "/v2/change/enqueue"
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")


@dataclass
class ReceivedEvent:
    path: str
    body: dict[str, Any]
    status: int


@dataclass
class StandInIncident:
    dedup_key: str
    summary: str
    status: str = "triggered"  # triggered | acknowledged | resolved
    triggers: int = 0  # trigger events folded into it by its dedup_key
    history: list[str] = field(default_factory=list)


# PagerDuty's published contract (developer.pagerduty.com, Events API v2): POST /v2/enqueue and
# POST /v2/change/enqueue with a JSON body carrying `routing_key`; 202 with {status, message}
# (and the alert's `dedup_key`); 400 "invalid event" with `errors`; 429 when rate limited.
class PagerDutyEventsServer:
    def __init__(
        self,
        routing_key: str = ROUTING_KEY,
        host: str = "127.0.0.1",
        on_event: Callable[[ReceivedEvent], None] | None = None,
    ) -> None:
        self.routing_key = routing_key
        self._on_event = on_event
        self.received: list[ReceivedEvent] = []  # every request, failed ones included
        self.incidents: dict[str, StandInIncident] = {}
        self.changes: list[dict[str, Any]] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        ca = trustme.CA()
        self._folder = tempfile.TemporaryDirectory(prefix="pagerduty-stand-in-")
        self.ca_file = str(Path(self._folder.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(served)
        self._http = LoopbackServer(self._app, host, 0, name="pagerduty-events", ssl_context=served)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._http.port}"

    def fail_next(self, status: int, count: int = 1) -> None:
        """The next `count` requests answer `status` (429, 500, 503, ...) and change nothing."""
        with self._lock:
            self._failures.extend([status] * count)

    # ---- the API ---------------------------------------------------------------------------
    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        with self._lock:
            status, answer = self._handle(str(environ.get("REQUEST_METHOD")), path, body)
            event = ReceivedEvent(path, body if isinstance(body, dict) else {}, status)
            self.received.append(event)
        if self._on_event is not None and status == 202:
            self._on_event(event)
        reasons = {202: "Accepted", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests"}
        start_response(f"{status} {reasons.get(status, 'Error')}", [("Content-Type", "application/json")])
        return [json.dumps(answer).encode()]

    def _handle(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        if method != "POST" or path not in (EVENTS_PATH, CHANGES_PATH):
            return 404, {"status": "not found", "message": f"{method} {path} is not an endpoint"}
        if self._failures:
            status = self._failures.pop(0)
            if status == 429:
                return 429, {
                    "status": "throttle event",
                    "message": "Requests for this service are arriving too quickly.",
                }
            return status, {"status": "error", "message": "Internal server error"}
        errors = self._invalid(path, body)
        if errors:
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        if path == CHANGES_PATH:
            self.changes.append(body)
            return 202, {"status": "success", "message": "Change event processed"}
        return 202, {"status": "success", "message": "Event processed", "dedup_key": self._alert(body)}

    def _invalid(self, path: str, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["Event object must be JSON"]
        errors = []
        if body.get("routing_key") != self.routing_key:
            errors.append("'routing_key' is invalid")
        payload = body.get("payload")
        if path == CHANGES_PATH:
            if not isinstance(payload, dict) or not payload.get("summary"):
                errors.append("'payload.summary' is missing or blank")
            return errors
        action = body.get("event_action")
        if action not in ACTIONS:
            errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
        if action == "trigger":
            if not isinstance(payload, dict):
                return [*errors, "'payload' is missing"]
            for required in ("summary", "source"):
                if not payload.get(required):
                    errors.append(f"'payload.{required}' is missing or blank")
            if payload.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' is invalid")
            if len(str(payload.get("summary", ""))) > 1024:
                errors.append("'payload.summary' is longer than 1024 characters")
        elif not body.get("dedup_key"):
            errors.append("'dedup_key' is required to acknowledge or resolve")
        return errors

    def _alert(self, body: dict[str, Any]) -> str:
        key = str(body.get("dedup_key") or uuid.uuid4().hex)
        action = str(body["event_action"])
        if action == "trigger":
            summary = str(body["payload"]["summary"])
            found = self.incidents.get(key)
            if found is None or found.status == "resolved":  # a resolved alert's key opens a new one
                found = self.incidents[key] = StandInIncident(key, summary)
            found.triggers += 1
        elif key in self.incidents and self.incidents[key].status != "resolved":
            found = self.incidents[key]
            found.status = "resolved" if action == "resolve" else "acknowledged"
        else:
            return key  # PagerDuty accepts it and there is nothing open to change
        found.history.append(action)
        return key

    def start(self) -> PagerDutyEventsServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()
        self._folder.cleanup()

    def __enter__(self) -> PagerDutyEventsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def describe(event: ReceivedEvent) -> str:
    """One line per event for local mode's console."""
    payload = event.body.get("payload") or {}
    if event.path == CHANGES_PATH:
        return f"[pagerduty] change event: {payload.get('summary', '')}"
    action, key = event.body.get("event_action", ""), event.body.get("dedup_key", "")
    if action == "trigger":
        severity, summary = payload.get("severity", ""), payload.get("summary", "")
        return f"[pagerduty] trigger incident {key} ({severity}): {summary}"
    return f"[pagerduty] {action} incident {key}"
