"""Local mode: the real handlers behind 127.0.0.1, with embedded AWS (moto), Langfuse and Slack.
Each embedded default gives way to the standard setting when present (AWS_ENDPOINT_URL, LANGFUSE_HOST,
SLACK_WEBHOOK_URL, SLACK_BOT_TOKEN, LANGFUSE_WEBHOOK_SECRET, PAGERDUTY_EVENTS_URL): the README lists them."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any
from wsgiref.types import StartResponse, WSGIEnvironment

import requests

from local_mode.alert_events_route import EVENTS_PATH, replay_event
from local_mode.aws_resources import LocalResources, provision
from local_mode.lambda_runtime import (
    LocalLambdaContext,
    SqsPoller,
    WorkerHandler,
    api_gateway_event,
    request_body,
)
from local_mode.langfuse_metrics import seed_demo_traffic
from local_mode.langfuse_server import LangfuseCompatibleServer, seed_demo_prompt
from local_mode.langfuse_webhooks import WebhookSender
from local_mode.loopback import LoopbackServer
from local_mode.pagerduty_events_server import PagerDutyEventsServer, ReceivedEvent, describe
from local_mode.rollout_ticks import RolloutTicker, fast_plans
from local_mode.slack_api_server import ChannelMessage, SlackApiServer
from local_mode.slack_click import LOCAL_APPROVER, show
from local_mode.traffic import TrafficSimulator, prepare_versions
from local_mode.traffic_file import TrafficError, TrafficFile
from local_mode.watcher import WatcherSchedule, start_watcher

API_GATEWAY_BODY_LIMIT = 10 * 1024 * 1024
DEMO_TOKEN = "local-dev-token"  # noqa: S105 - a documented local-only default, never deployed
# Signing secret of the embedded store's webhooks unless LANGFUSE_WEBHOOK_SECRET is set.
DEMO_WEBHOOK_SECRET = "lf-whsec_local-demo-secret"  # noqa: S105 - local-only default, never deployed
LANGFUSE_EVENTS_PATH = "/langfuse/events"
DEMO_SIGNING_SECRET = "local-dev-signing-secret"  # noqa: S105 - local-only, like DEMO_TOKEN
DEMO_CHANNEL = "C0LOCALDEV"


@dataclass
class LocalSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    aws_port: int = 4566
    webhook_token: str = DEMO_TOKEN
    stage: str = "local"
    verbose: bool = False
    poll_wait_seconds: int = 1
    # Run the watcher (Langfuse regressions without Prometheus) every this many seconds; None: off.
    watch_every_seconds: float | None = None
    environment: dict[str, str] = field(default_factory=dict)
    # Simulated traffic (--traffic) and rollout steps of this many seconds (--step-seconds).
    traffic: TrafficFile | None = None
    step_seconds: float | None = None


class LocalService:
    def __init__(self, settings: LocalSettings, out: IO[str] | None = None) -> None:
        self.settings = settings
        self.out = out or sys.stdout
        self.moto: LoopbackServer | None = None
        self.langfuse: LangfuseCompatibleServer | None = None
        self.slack_api: SlackApiServer | None = None
        self.pagerduty: PagerDutyEventsServer | None = None
        self.resources: LocalResources | None = None
        self.poller: SqsPoller | None = None
        self.watcher: WatcherSchedule | None = None
        self._http: LoopbackServer | None = None
        self._printed: set[tuple[str, int]] = set()
        self._accepted: set[str] = set()  # rollback ids the webhook answered, to tell a repeat
        # One invocation at a time, see _one_at_a_time.
        self._invocations = threading.Lock()
        self._saved_environment: dict[str, str] | None = None
        self.webhooks: WebhookSender | None = None
        self.traffic: TrafficSimulator | None = None
        self.ticker: RolloutTicker | None = None
        self.created_versions: list[str] = []
        self._slack_shapes: dict[tuple[str, str], Any] = {}

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> LocalService:
        # The handlers read their configuration from the environment, as in Lambda; what local
        # mode sets is put back on stop, so an embedding process (tests) is left as it was.
        self._saved_environment = dict(os.environ)
        try:
            self._start_parts(os.environ)
        except BaseException:
            self.stop()  # a busy port must not leave the other servers running
            raise
        return self

    def _start_parts(self, env: Any) -> None:
        env.update(self.settings.environment)
        self._set_lambda_defaults(env)
        if self.settings.step_seconds:
            env["ROLLOUT_PLANS"] = fast_plans(self.settings.step_seconds).model_dump_json(
                exclude_defaults=True
            )
        if not env.get("AWS_ENDPOINT_URL"):
            self._start_moto(env)
        if not env.get("LANGFUSE_HOST"):
            self._start_langfuse(env)
        if env.get("SLACK_BOT_TOKEN"):
            self._start_slack_app(env)
        if env.get("PAGERDUTY_ROUTING_KEY") and not env.get("PAGERDUTY_EVENTS_URL"):
            self._start_pagerduty(env)
        self.resources = provision(webhook_token=self.settings.webhook_token)
        env.update(self.resources.environment())
        env.setdefault("LANGFUSE_WEBHOOK_SECRET", DEMO_WEBHOOK_SECRET)
        self._start_handlers(self.resources)
        self._serve_http()
        if self.langfuse is not None:
            self.webhooks = WebhookSender()
            self.webhooks.subscribe(f"{self.url}{LANGFUSE_EVENTS_PATH}", env["LANGFUSE_WEBHOOK_SECRET"])
            self.langfuse.store.webhooks = self.webhooks
        if self.settings.traffic is not None:
            self._start_traffic(self.settings.traffic, env)

    def _start_traffic(self, traffic: TrafficFile, env: Any) -> None:
        """The file's versions made, then its requests through the client library, and the ticks."""
        if self.langfuse is None:
            raise TrafficError("--traffic writes into the embedded Langfuse store: unset LANGFUSE_HOST")
        from langfuse import Langfuse
        from prompt_rollback import wiring

        if not self.settings.verbose:  # the SDK warns of every candidate it looks for and finds absent
            logging.getLogger("langfuse").setLevel(logging.ERROR)
        client = Langfuse(
            public_key=env["LANGFUSE_PUBLIC_KEY"],
            secret_key=env["LANGFUSE_SECRET_KEY"],
            host=env["LANGFUSE_HOST"],
            tracing_enabled=False,
        )
        self.created_versions = prepare_versions(client, traffic)
        step = self.settings.step_seconds
        fast = step is not None
        self.traffic = TrafficSimulator(
            traffic,
            client,
            self.langfuse.metrics,
            self._say,
            speed=traffic.speed_for(step),
            # A step or an abort reaches the simulated applications within one prompt-cache TTL.
            cache_ttl_seconds=max(1, round(step / 2)) if step else None,
            retention=timedelta(minutes=2 if fast else 360),
        ).start()
        assert self.resources is not None
        self.ticker = RolloutTicker(
            wiring.audit_ledger(),
            list(traffic.prompts),
            self.resources.queue_url,
            self._say,
            cli=str(Path(sys.executable).with_name("prompt-rollback")),
            slack_in_console=not env.get("SLACK_BOT_TOKEN") and not env.get("SLACK_WEBHOOK_URL"),
            stage=self.settings.stage,
        ).start()

    def _set_lambda_defaults(self, env: Any) -> None:
        """What the Lambda runtime and the stack would set, unless the developer set it."""
        env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        env.setdefault("POWERTOOLS_SERVICE_NAME", "prompt-rollback")
        env.setdefault("POWERTOOLS_METRICS_NAMESPACE", "PromptRollback")
        env.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        env.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
        env.setdefault("POWERTOOLS_LOG_LEVEL", "INFO" if self.settings.verbose else "WARNING")
        env["STAGE"] = self.settings.stage

    def _start_moto(self, env: Any) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        # moto's own app on our LoopbackServer: ThreadedMotoServer waits forever when its port
        # is taken, where this raises PortInUse at once.
        self.moto = LoopbackServer(
            DomainDispatcherApplication(create_backend_app),
            self.settings.host,
            self.settings.aws_port,
            name="moto",
        )
        self.moto.start()
        env["AWS_ENDPOINT_URL"] = f"http://{self.settings.host}:{self.moto.port}"
        self._reset_moto()  # moto keeps state per process, not per server: start empty
        env.setdefault("AWS_ACCESS_KEY_ID", "local")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "local")

    def _start_langfuse(self, env: Any) -> None:
        self.langfuse = LangfuseCompatibleServer(host=self.settings.host).start()
        seed_demo_prompt(self.langfuse.store)
        # v7's generations lost exact match against v6's: what the Langfuse exporter detects.
        seed_demo_traffic(self.langfuse.metrics)
        env["LANGFUSE_HOST"] = self.langfuse.url
        env["LANGFUSE_PUBLIC_KEY"] = self.langfuse.public_key
        env["LANGFUSE_SECRET_KEY"] = self.langfuse.secret_key

    def _start_handlers(self, resources: LocalResources) -> None:
        from prompt_rollback import wiring
        from prompt_rollback.changes import langfuse_handler as langfuse_events
        from prompt_rollback.slack import handler as slack_actions
        from prompt_rollback.sources import events_handler as alert_events
        from prompt_rollback.sources import webhook_handler as webhook
        from prompt_rollback.worker import handler as worker

        wiring.reset()
        self._webhook = self._one_at_a_time(webhook.lambda_handler)
        self._alert_events = self._one_at_a_time(alert_events.lambda_handler)
        self._langfuse_events = self._one_at_a_time(langfuse_events.lambda_handler)
        self._slack_actions = self._one_at_a_time(slack_actions.lambda_handler)
        self.poller = SqsPoller(
            resources.queue_url,
            self._one_at_a_time(worker.lambda_handler),
            self._report,
            self.settings.poll_wait_seconds,
        ).start()
        if self.settings.watch_every_seconds:
            self.watcher = start_watcher(
                self.settings.watch_every_seconds,
                self._one_at_a_time,
                self._say,
                prefix=resources.audit_table,
            )

    def _serve_http(self) -> None:
        self._http = LoopbackServer(self._wsgi, self.settings.host, self.settings.port, name="webhook-http")
        self._http.start()

    def _start_slack_app(self, env: Any) -> None:
        """App mode: a signing secret, a channel and approvers by default; Slack itself embedded
        unless SLACK_API_BASE_URL points at one."""
        env.setdefault("SLACK_SIGNING_SECRET", DEMO_SIGNING_SECRET)
        env.setdefault("SLACK_CHANNEL", DEMO_CHANNEL)
        env.setdefault("ROLLBACK_POLICY", json.dumps({"approvers": [LOCAL_APPROVER]}))
        if not env.get("SLACK_API_BASE_URL"):
            self.slack_api = SlackApiServer(
                token=env["SLACK_BOT_TOKEN"], host=self.settings.host, on_message=self._show_slack
            ).start()
            env["SLACK_API_BASE_URL"] = self.slack_api.base_url

    def _start_pagerduty(self, env: Any) -> None:
        """PagerDuty's Events API on loopback (HTTPS, its own CA): each event is printed here."""
        self.pagerduty = PagerDutyEventsServer(
            routing_key=env["PAGERDUTY_ROUTING_KEY"], host=self.settings.host, on_event=self._show_pagerduty
        ).start()
        env["PAGERDUTY_EVENTS_URL"] = self.pagerduty.url
        env["PAGERDUTY_CA_FILE"] = self.pagerduty.ca_file

    def _show_pagerduty(self, event: ReceivedEvent) -> None:
        self._say(describe(event))

    def _show_slack(self, message: ChannelMessage) -> None:
        if message.text.startswith("Rollout of "):
            # Every tick updates a rollout's message with its numbers: shown again only when its
            # state or its buttons change (the [rollout] lines carry the numbers).
            shape = (message.blocks[0].get("text"), [b.get("action_id") for b in message.buttons()])
            if self._slack_shapes.get((message.channel, message.ts)) == shape:
                return
            self._slack_shapes[(message.channel, message.ts)] = shape
        self._say(show(message, f"{self.url}/slack/actions", os.environ["SLACK_SIGNING_SECRET"]))

    def stop(self) -> None:
        # Senders first, then what they send to, each only if it was started.
        for started in (
            self.traffic,
            self.ticker,
            self.webhooks,
            self.slack_api,
            self.watcher,
            self._http,
            self.poller,
            self.langfuse,
            self.pagerduty,
        ):
            if started:
                started.stop()
        if self.moto:
            self._reset_moto()
            self.moto.stop()
        if self._saved_environment is not None:
            os.environ.clear()
            os.environ.update(self._saved_environment)
            self._saved_environment = None

    def _reset_moto(self) -> None:
        requests.post(f"{os.environ['AWS_ENDPOINT_URL']}/moto-api/reset", timeout=5)

    def _one_at_a_time(self, handler: WorkerHandler) -> WorkerHandler:
        """Lambda runs one invocation per execution environment, and the handlers rely on it:
        Powertools keeps the current event (`BaseRouter.current_event`), the appended log keys
        and the metrics per process. Local mode is one process for both functions, serving HTTP
        from many threads, so it runs one invocation at a time; concurrent posts would
        otherwise be answered (and queued) with each other's bodies."""

        def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
            with self._invocations:
                return handler(event, context)

        return invoke

    @property
    def url(self) -> str:
        assert self._http is not None
        return f"http://{self.settings.host}:{self._http.port}"

    # ---- HTTP → API Gateway event → webhook handler -----------------------------------------
    def _wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            return _respond(start_response, 200, {"status": "ok"})
        if _length_unknown(environ):
            return _respond(
                start_response, 411, {"message": "Length Required: send Content-Length or chunks"}
            )
        body = request_body(environ, API_GATEWAY_BODY_LIMIT)
        if body is None:
            return _respond(start_response, 413, {"message": "Request Too Long"})
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        if path == EVENTS_PATH and environ["REQUEST_METHOD"] == "POST":  # SNS/EventBridge replays
            status, answer = replay_event(headers, body, self.settings.webhook_token, self._alert_events)
            return _respond(start_response, status, answer)
        event = api_gateway_event(environ["REQUEST_METHOD"], path, headers, body, stage=self.settings.stage)
        if path == LANGFUSE_EVENTS_PATH:
            result = self._langfuse_events(event, LocalLambdaContext("langfuse-events", timeout_seconds=15))
            status = int(result.get("statusCode", 500))
            start_response(
                f"{status} {'OK' if status < 400 else 'Error'}", [("Content-Type", "application/json")]
            )
            self._say_change(status, (result.get("body") or "").encode())
            return [(result.get("body") or "").encode()]
        if path == "/slack/actions":  # the Slack actions function, on the same port as /alerts
            result = self._slack_actions(event, LocalLambdaContext("slack-actions", timeout_seconds=3))
            status = int(result.get("statusCode", 500))
            start_response(
                f"{status} {'OK' if status < 400 else 'Error'}", [("Content-Type", "application/json")]
            )
            self._say(f"[slack-actions] {status} {result.get('body') or ''}".rstrip())
            return [(result.get("body") or "").encode()]
        result = self._webhook(event, LocalLambdaContext("webhook", timeout_seconds=10))
        status = int(result.get("statusCode", 500))
        payload = (result.get("body") or "").encode()
        response_headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
        start_response(f"{status} {'OK' if status < 400 else 'Error'}", response_headers)
        self._say_triage(status, payload)
        return [payload]

    # ---- what the developer sees -----------------------------------------------------------
    def _say_triage(self, status: int, payload: bytes) -> None:
        try:
            body = json.loads(payload or b"{}")
        except ValueError:
            body = {}
        if status == 202:
            for item in body.get("accepted", []):
                alert = f"{item['prompt_name']} v{item['prompt_version']}"
                if item["rollback_id"] in self._accepted:  # the same alert again: one rollback id
                    self._say(
                        f"[webhook] 202 {alert} again, as {item['rollback_id']}: "
                        "the same alert is acted on once, nothing moves again"
                    )
                    continue
                self._accepted.add(item["rollback_id"])
                self._say(f"[webhook] 202 queued rollback {item['rollback_id']} for {alert}")
            for item in body.get("skipped", []):
                self._say(f"[webhook] 202 skipped alert {item['fingerprint']}: {item['reason']}")
        else:
            self._say(f"[webhook] {status} {body.get('error', '')}")

    def _say_change(self, status: int, payload: bytes) -> None:
        try:
            body = json.loads(payload or b"{}")
        except ValueError:
            body = {}
        if status == 200 and body.get("status") == "recorded":
            self._say(f"[langfuse] change recorded: {body.get('detail')} (audit seq {body.get('seq')})")
        elif status != 200:
            self._say(f"[langfuse] {status} {body.get('error', '')}")

    def _report(self, messages: list[dict[str, Any]]) -> None:
        """After each batch, show the decisions the audit ledger now holds for it."""
        from prompt_rollback import wiring
        from prompt_rollback.domain.audit_record import AuditRecord

        ledger = wiring.audit_ledger()
        for message in messages:
            request = json.loads(message["Body"])
            key = f"{request['provider']}#{request['prompt_name']}"
            # A click or a resolution (message_type) shows whatever it recorded; a request its decision.
            people = "message_type" in request
            for record in reversed(ledger.recent(key, 10)):
                mark = (key, record.seq)
                if people and record.kind in ("decision", "followup"):
                    if mark not in self._printed:
                        self._printed.add(mark)
                        # A person acted ("by"); otherwise a signal reported it (its source).
                        who = "by" if record.mode == "manual" else "reported by"
                        self._say(
                            f"[worker] {record.outcome.value}: {record.prompt_name} "
                            f"{_versions(record.from_version, record.to_version)} "
                            f"({record.reason}); {who} {record.actor}; audit seq {record.seq}"
                        )
                    continue
                if (
                    not isinstance(record, AuditRecord)  # a change someone made: printed by [langfuse]
                    or record.request_id != request.get("request_id")
                    or not record.is_decision
                    or mark in self._printed
                ):
                    continue
                self._printed.add(mark)
                slack = record.slack.status if record.slack else ""
                self._say(
                    f"[worker] {record.outcome.value}: {record.prompt_name} "
                    f"{_versions(record.from_version, record.to_version)} ({record.reason}); "
                    f"slack {slack}; audit seq {record.seq} hash {record.hash[:12]}"
                )

    def _say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()


def _versions(from_version: int | None, to_version: int | None) -> str:
    """ "v7 -> v6"; a decision that moved nothing names only the version it saw."""
    if to_version is None:
        return f"at v{from_version}" if from_version is not None else "(no version)"
    return f"v{from_version} -> v{to_version}"


def _length_unknown(environ: WSGIEnvironment) -> bool:
    """A request body with neither Content-Length nor chunks (werkzeug marks a de-chunked stream
    terminated): where it ends is a guess, which HTTP/1.1 answers 411 (RFC 9110, 15.5.12)."""
    has_body = environ["REQUEST_METHOD"] in ("POST", "PUT", "PATCH")
    return has_body and not environ.get("CONTENT_LENGTH") and not environ.get("wsgi.input_terminated")


def _respond(start_response: StartResponse, status: int, body: Any) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(f"{status} {'OK' if status < 400 else 'Error'}", [("Content-Type", "application/json")])
    return [payload]
