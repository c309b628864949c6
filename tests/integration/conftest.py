"""Integration fixtures: moto for AWS, the Langfuse-compatible server driven through the real
`langfuse` SDK, and a Slack webhook server, all in this process or on loopback; and local mode
itself, started over loopback as a developer starts it."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import boto3
import botocore.session
import pytest
from moto import mock_aws
from prompt_rollback import wiring
from prompt_rollback.ports import PromptRegistry
from prompt_rollback.sources import webhook_handler as webhook
from prompt_rollback.worker import handler as worker

from local_mode.aws_resources import LocalResources, provision
from local_mode.lambda_runtime import LocalLambdaContext, SqsPoller, api_gateway_event
from local_mode.langfuse_server import LangfuseCompatibleServer, seed_demo_prompt
from local_mode.service import LocalService, LocalSettings
from local_mode.slack_api_server import BOT_TOKEN, SlackApiServer
from tests.integration.slack_app_stack import (
    APPROVER,
    CHANNEL,
    SIGNING_SECRET,
    AppStack,
    reset_app_wiring,
)
from tests.integration.slack_server import SlackWebhookServer

TOKEN = "test-token-0123456789abcdef"


@dataclass
class Stack:
    resources: LocalResources
    langfuse: LangfuseCompatibleServer
    slack: SlackWebhookServer
    monkeypatch: pytest.MonkeyPatch

    # ---- driving it ------------------------------------------------------------------------
    def post(
        self,
        body: Any,
        token: str | None = TOKEN,
        content_type: str = "application/json",
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else json.dumps(body).encode()
        result = webhook.lambda_handler(
            api_gateway_event("POST", "/alerts", headers, payload), LocalLambdaContext("webhook")
        )
        return int(result["statusCode"]), json.loads(result.get("body") or "{}")

    def drain(self, max_batches: int = 50) -> int:
        """Run the worker over the queue until it is empty (failures come back after visibility 0)."""
        poller = SqsPoller(self.resources.queue_url, worker.lambda_handler, wait_seconds=0)
        batches = 0
        while batches < max_batches and poller.poll_once():
            batches += 1
        return batches

    def invoke_worker(self, event: dict[str, Any]) -> dict[str, Any]:
        return worker.lambda_handler(event, LocalLambdaContext("worker"))

    def use_registry(self, registry: PromptRegistry) -> None:
        """Serve `registry.provider` with this adapter (e.g. Bedrock over a stubbed client)."""
        built_by_wiring = wiring.registry_for

        def registry_for(provider: str) -> PromptRegistry:
            return registry if provider == registry.provider else built_by_wiring(provider)

        self.monkeypatch.setattr(wiring, "registry_for", registry_for)
        reset_wiring()

    def set_policy(self, **policy: Any) -> None:
        self.monkeypatch.setenv("ROLLBACK_POLICY", json.dumps(policy))
        reset_wiring()

    # ---- looking at it ---------------------------------------------------------------------
    def audit(self, prompt: str = "support-answer", provider: str = "langfuse") -> list[dict[str, Any]]:
        return list(wiring.audit_ledger().chain(f"{provider}#{prompt}"))

    def decisions(self, prompt: str = "support-answer", provider: str = "langfuse") -> list[dict[str, Any]]:
        return [r for r in self.audit(prompt, provider) if r["kind"] == "decision"]

    def production(self, prompt: str = "support-answer") -> int | None:
        return self.langfuse.store.production_version(prompt)

    def label_moves(self) -> int:
        return sum(1 for method, _ in self.langfuse.app.requests if method == "PATCH")

    def queue_depth(self, url: str) -> int:
        attributes = boto3.client("sqs").get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


def reset_wiring() -> None:
    wiring.reset()


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "LANGFUSE_SECRET_NAME",
        "SLACK_WEBHOOK_SECRET_NAME",
        "ROLLBACK_POLICY",
        "PAGERDUTY_ROUTING_KEY",
        "PAGERDUTY_ROUTING_KEY_SECRET_NAME",
        "PAGERDUTY_EVENTS_URL",
        "PAGERDUTY_CA_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "prompt-rollback")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "PromptRollback")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("STAGE", "test")
    monkeypatch.setenv("MAX_RECEIVE_COUNT", "3")
    with mock_aws(), LangfuseCompatibleServer() as langfuse:
        slack = SlackWebhookServer().start()
        resources = provision(
            prefix=f"t-{uuid.uuid4().hex[:8]}",
            webhook_token=TOKEN,
            max_receive_count=3,
            visibility_timeout_seconds=0,
        )
        for key, value in resources.environment().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("LANGFUSE_HOST", langfuse.url)
        monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", langfuse.public_key)
        monkeypatch.setenv("LANGFUSE_SECRET_KEY", langfuse.secret_key)
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
        seed_demo_prompt(langfuse.store)
        reset_wiring()
        try:
            yield Stack(resources, langfuse, slack, monkeypatch)
        finally:
            slack.stop()
            reset_wiring()


@pytest.fixture
def botocore_sessions(stack: Stack) -> list[object]:
    """The botocore sessions started from here on, as in a fresh container (no default session, no
    client built): each loads the endpoint data and service models again, which costs a cold
    start about as much as its first client does."""
    stack.monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    reset_wiring()
    started: list[object] = []
    initialize = botocore.session.Session.__init__

    def counted(session: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        started.append(session)
        initialize(session, *args, **kwargs)

    stack.monkeypatch.setattr(botocore.session.Session, "__init__", counted)
    return started


@pytest.fixture
def app_stack(stack: Stack) -> Iterator[AppStack]:
    server = SlackApiServer().start()
    monkeypatch = stack.monkeypatch
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_BASE_URL", server.base_url)
    monkeypatch.setenv("SLACK_CHANNEL", CHANNEL)
    monkeypatch.setenv("ROLLBACK_POLICY", json.dumps({"approvers": [APPROVER, "S0ONCALL"]}))
    server.user_groups["S0ONCALL"] = ["U0BOB"]
    reset_app_wiring()
    try:
        yield AppStack(stack, server)
    finally:
        server.stop()
        reset_app_wiring()


# Settings a developer's shell may hold that would point local mode away from its embedded defaults.
LOCAL_MODE_OVERRIDES = (
    "AWS_ENDPOINT_URL",
    "AWS_PROFILE",
    "LANGFUSE_HOST",
    "LANGFUSE_PUBLIC_KEY",
    "LANGFUSE_SECRET_KEY",
    "SLACK_WEBHOOK_URL",
    "SLACK_API_BASE_URL",
    "SLACK_SIGNING_SECRET",
    "SLACK_CHANNEL",
    "ROLLBACK_POLICY",
    "WATCHER_CONFIG",
    "PAGERDUTY_ROUTING_KEY",
    "PAGERDUTY_EVENTS_URL",
    "PAGERDUTY_CA_FILE",
)


@dataclass
class LocalMode:
    """Local mode running in this process, and what it printed."""

    service: LocalService
    out: io.StringIO

    @property
    def url(self) -> str:
        return self.service.url

    def console(self) -> str:
        return self.out.getvalue()

    def exited(self) -> str | None:
        return None  # threads in this process: a crash shows up on the console instead

    def diagnostics(self) -> str:
        return f"---- local mode console:\n{self.console()}"


class StartLocalMode(Protocol):
    def __call__(
        self, environment: dict[str, str] | None = None, watch_every_seconds: float | None = None
    ) -> LocalMode: ...


@pytest.fixture
def local_mode_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[StartLocalMode]:
    """Start local mode on free ports with its embedded AWS, Langfuse and Slack; stopped afterwards."""
    for name in LOCAL_MODE_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    started: list[LocalService] = []

    def start(
        environment: dict[str, str] | None = None, watch_every_seconds: float | None = None
    ) -> LocalMode:
        settings = LocalSettings(
            port=0,
            aws_port=0,
            poll_wait_seconds=1,
            watch_every_seconds=watch_every_seconds,
            environment=environment or {},
        )
        out = io.StringIO()
        started.append(LocalService(settings, out=out).start())
        return LocalMode(started[-1], out)

    try:
        yield start
    finally:
        for service in reversed(started):
            service.stop()


@pytest.fixture
def local_mode(local_mode_factory: StartLocalMode) -> LocalMode:
    return local_mode_factory()
