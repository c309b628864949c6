"""End-to-end harness: the real Alertmanager binary posts to local mode, run as a subprocess, against moto,
a Langfuse-compatible store and a loopback Slack in this process. Everything is on 127.0.0.1, every wait
polls against a deadline, and teardown stops whatever started, even after a half-failed start-up."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer
from prompt_rollback.adapters.audit_store import DynamoDBAuditLedger
from prompt_rollback.domain.audit import verify_chain

from local_mode.langfuse_server import LangfuseCompatibleServer, seed_demo_prompt
from tests.integration.slack_server import SlackWebhookServer
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
DEPLOYED_AM_CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
ALERTMANAGER_NAMES = ("prometheus-alertmanager", "alertmanager")  # Debian's name, upstream's name
TOKEN = "e2e-webhook-token-5f1c0a7d"
REGION = "us-east-1"
# local_mode.aws_resources.provision() with its default prefix (what `python -m local_mode` uses).
AUDIT_TABLE = "prompt-rollback-local-audit"
REQUEST_QUEUE = "prompt-rollback-local-requests.fifo"
DEAD_LETTER_QUEUE = "prompt-rollback-local-dlq.fifo"

# Alertmanager timers, short enough for a test: first notification after group_wait, the
# group is flushed every group_interval, and re-sent while firing once repeat_interval passed.
GROUP_WAIT = "1s"
GROUP_INTERVAL = "1s"
REPEAT_INTERVAL = "2s"

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 5.0


# ---- small helpers ---------------------------------------------------------------------------
# Servers in this process bind port 0; the two subprocesses get a port found free by binding port 0
# here (they cannot report theirs back reliably).
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"<{path}: {error}>"
    return "\n".join(text.splitlines()[-lines:])


def alertmanager_binary() -> str:
    override = os.environ.get("ALERTMANAGER_BIN")
    candidates = [override] if override else list(ALERTMANAGER_NAMES)
    for name in candidates:
        found = shutil.which(name)
        if found:
            return found
    message = (
        f"Alertmanager binary not found ({', '.join(candidates)}); install it with "
        "`apt-get install -y --no-install-recommends prometheus-alertmanager` or set ALERTMANAGER_BIN"
    )
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set, so a missing Alertmanager is an error)")
    pytest.skip(message)


# The shipped deploy/alertmanager/alertmanager.yml with only the receiver URL, the token file and the
# three timers replaced, so the route matcher, grouping, send_resolved, max_alerts and the Bearer
# credentials_file under test are the real ones.
def alertmanager_config(webhook_url: str, token_file: Path) -> dict[str, Any]:
    """The shipped configuration with the test's endpoint, token file and timers."""
    config: dict[str, Any] = yaml.safe_load(DEPLOYED_AM_CONFIG.read_text())
    route = next(r for r in config["route"]["routes"] if r["receiver"] == "prompt-rollback")
    route.update(group_wait=GROUP_WAIT, group_interval=GROUP_INTERVAL, repeat_interval=REPEAT_INTERVAL)
    receiver = next(r for r in config["receivers"] if r["name"] == "prompt-rollback")
    (webhook,) = receiver["webhook_configs"]
    webhook["url"] = webhook_url
    webhook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    return config


@dataclass
class ManagedProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    @classmethod
    def start(cls, name: str, args: list[str], log_path: Path, **kwargs: Any) -> ManagedProcess:
        log_file = log_path.open("wb")
        try:
            popen = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, **kwargs
            )
        except BaseException:
            log_file.close()
            raise
        return cls(name, popen, log_path, log_file)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    # Terminate, wait, then kill.
    def stop(self) -> None:
        try:
            if self.alive():
                self.popen.terminate()
                try:
                    self.popen.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.popen.kill()
                    self.popen.wait(timeout=STOP_TIMEOUT)
        finally:
            self.log_file.close()


# ---- the running system ----------------------------------------------------------------------
@dataclass
class EndToEnd:
    tmp_path: Path
    moto_url: str = ""
    langfuse: LangfuseCompatibleServer | None = None
    slack: SlackWebhookServer | None = None
    local_mode: ManagedProcess | None = None
    local_mode_url: str = ""
    alertmanager: ManagedProcess | None = None
    alertmanager_url: str = ""
    alertmanager_config_text: str = ""
    timings: dict[str, float] = field(default_factory=dict)

    # ---- AWS (moto) as the test sees it ------------------------------------------------------
    def _aws(self, kind: str, service: str) -> Any:
        factory = boto3.resource if kind == "resource" else boto3.client
        return factory(  # type: ignore[call-overload]
            service,
            endpoint_url=self.moto_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def audit_records(self, prompt: str = "support-answer") -> list[dict[str, Any]]:
        """Every ledger record of the prompt, oldest first, read straight from the DynamoDB table."""
        table = self._aws("resource", "dynamodb").Table(AUDIT_TABLE)
        return list(DynamoDBAuditLedger(table).chain(f"langfuse#{prompt}"))

    def decisions(self, prompt: str = "support-answer") -> list[dict[str, Any]]:
        return [r for r in self.audit_records(prompt) if r.get("kind") == "decision"]

    def chain_problems(self, prompt: str = "support-answer") -> list[Any]:
        return verify_chain(self.audit_records(prompt))

    def queue_depth(self, queue_name: str = REQUEST_QUEUE) -> int:
        sqs = self._aws("client", "sqs")
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )

    # ---- Langfuse and Slack --------------------------------------------------------------------
    def production(self, prompt: str = "support-answer") -> int | None:
        assert self.langfuse is not None
        return self.langfuse.store.production_version(prompt)

    def label_moves(self) -> list[str]:
        assert self.langfuse is not None
        return [path for method, path in list(self.langfuse.app.requests) if method == "PATCH"]

    def slack_messages(self) -> list[dict[str, Any]]:
        assert self.slack is not None
        return list(self.slack.messages)

    # ---- local mode's console ---------------------------------------------------------------
    def console(self) -> list[str]:
        assert self.local_mode is not None
        return self.local_mode.output().splitlines()

    def webhook_lines(self) -> list[str]:
        return [line for line in self.console() if line.startswith("[webhook] ")]

    def firing_deliveries(self) -> list[str]:
        """Every firing alert the webhook accepted: the first as "queued rollback", a repeat as "again"."""
        return [
            line
            for line in self.webhook_lines()
            if line.startswith("[webhook] 202 queued rollback ")
            or (line.startswith("[webhook] 202 ") and " again, as " in line)
        ]

    def resolved_deliveries(self) -> list[str]:
        return [
            line
            for line in self.webhook_lines()
            if line.startswith("[webhook] 202 skipped alert ") and ": resolved" in line
        ]

    # ---- Alertmanager -------------------------------------------------------------------------
    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        status, text = http("POST", f"{self.alertmanager_url}/api/v2/alerts", alerts)
        assert status == 200, f"Alertmanager refused the alerts: HTTP {status} {text}"

    def alertmanager_metric(self, name: str, integration: str = "webhook") -> float:
        """Sum of one counter over its series for the integration (0 when absent)."""
        status, text = http("GET", f"{self.alertmanager_url}/metrics")
        assert status == 200, f"GET /metrics: HTTP {status}"
        pattern = re.compile(rf"^{re.escape(name)}\{{([^}}]*)\}} (\S+)$")
        total = 0.0
        for line in text.splitlines():
            match = pattern.match(line)
            if match and f'integration="{integration}"' in match.group(1):
                total += float(match.group(2))
        return total

    # ---- what tests/waiting.py asks of a watched system ----------------------------------------
    def exited(self) -> str | None:
        for process in (self.local_mode, self.alertmanager):
            if process is not None and not process.alive():
                return f"{process.name} exited with {process.popen.returncode}"
        return None

    def diagnostics(self) -> str:
        parts = []
        with contextlib.suppress(Exception):
            parts.append(f"langfuse production: v{self.production()}, PATCHes: {self.label_moves()}")
        with contextlib.suppress(Exception):
            parts.append(f"slack messages: {len(self.slack_messages())}")
        with contextlib.suppress(Exception):
            parts.append(
                "audit: "
                + json.dumps(
                    [
                        (r.get("seq"), r.get("kind"), r.get("outcome"), r.get("reason"))
                        for r in self.audit_records()
                    ]
                )
            )
        for process in (self.local_mode, self.alertmanager):
            if process is not None:
                parts.append(
                    f"---- {process.name} ({process.log_path}), last lines:\n{tail(process.log_path)}"
                )
        return "\n".join(parts)


@contextlib.contextmanager
def _quiet_werkzeug() -> Iterator[None]:
    """moto's server logs one line per AWS call through werkzeug; keep test output readable."""
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)
    try:
        yield
    finally:
        werkzeug.setLevel(level)


def _wait_ready(e2e: EndToEnd, process: ManagedProcess, url: str) -> None:
    def ready() -> bool:
        try:
            return http("GET", url)[0] == 200
        except OSError:
            return False

    wait_for(f"{process.name} at {url}", ready, timeout=START_TIMEOUT, interval=0.2, watched=e2e)


def _start_aws_and_fakes(e2e: EndToEnd, stack: contextlib.ExitStack) -> None:
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    stack.callback(moto.stop)
    host, port = moto.get_host_and_port()
    e2e.moto_url = f"http://{host}:{port}"
    # moto's backends are global to this process, shared with mock_aws and with local mode's
    # embedded moto in other tests: start from nothing, and leave nothing behind.
    reset_url = f"{e2e.moto_url}/moto-api/reset"
    status, _ = http("POST", reset_url)
    assert status == 200, "could not reset the moto server"
    stack.callback(http, "POST", reset_url)

    e2e.langfuse = LangfuseCompatibleServer().start()
    stack.callback(e2e.langfuse.stop)
    seed_demo_prompt(e2e.langfuse.store)
    assert e2e.production() == 7

    e2e.slack = SlackWebhookServer().start()
    stack.callback(e2e.slack.stop)


# Local mode reaches this process's servers through AWS_ENDPOINT_URL (moto), LANGFUSE_HOST (the
# Langfuse-compatible store) and SLACK_WEBHOOK_URL (the loopback Slack).
def _start_local_mode(e2e: EndToEnd, stack: contextlib.ExitStack) -> None:
    assert e2e.langfuse is not None and e2e.slack is not None
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "LANGFUSE_", "SLACK_", "POWERTOOLS_"))
        and key not in ("ROLLBACK_POLICY", "STAGE", "WEBHOOK_TOKEN", "MAX_RECEIVE_COUNT")
    }
    env.update(
        AWS_ENDPOINT_URL=e2e.moto_url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        LANGFUSE_HOST=e2e.langfuse.url,
        LANGFUSE_PUBLIC_KEY=e2e.langfuse.public_key,
        LANGFUSE_SECRET_KEY=e2e.langfuse.secret_key,
        SLACK_WEBHOOK_URL=e2e.slack.url,
        # No cooldown: a duplicate delivery must be stopped by deduplication and idempotency,
        # not hidden behind the "cooldown" guard.
        ROLLBACK_POLICY=json.dumps({"cooldown_minutes": 0}),
        PYTHONUNBUFFERED="1",
    )
    e2e.local_mode = ManagedProcess.start(
        "local mode",
        [sys.executable, "-m", "local_mode", "--host", "127.0.0.1", "--port", str(port), "--token", TOKEN],
        e2e.tmp_path / "local-mode.log",
        cwd=REPO,
        env=env,
    )
    stack.callback(e2e.local_mode.stop)
    e2e.local_mode_url = f"http://127.0.0.1:{port}"
    _wait_ready(e2e, e2e.local_mode, f"{e2e.local_mode_url}/healthz")


def _start_alertmanager(e2e: EndToEnd, stack: contextlib.ExitStack, binary: str) -> None:
    token_file = e2e.tmp_path / "webhook-token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    config_path = e2e.tmp_path / "alertmanager.yml"
    e2e.alertmanager_config_text = yaml.safe_dump(
        alertmanager_config(f"{e2e.local_mode_url}/alerts", token_file), sort_keys=False
    )
    config_path.write_text(e2e.alertmanager_config_text)
    port = free_port()
    storage = e2e.tmp_path / "alertmanager-data"
    storage.mkdir()
    e2e.alertmanager = ManagedProcess.start(
        "alertmanager",
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.path={storage}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # empty: no HA gossip, no extra port
            "--log.level=debug",
        ],
        e2e.tmp_path / "alertmanager.log",
        cwd=e2e.tmp_path,
    )
    stack.callback(e2e.alertmanager.stop)
    e2e.alertmanager_url = f"http://127.0.0.1:{port}"
    _wait_ready(e2e, e2e.alertmanager, f"{e2e.alertmanager_url}/-/ready")


@pytest.fixture
def e2e(tmp_path: Path) -> Iterator[EndToEnd]:
    binary = alertmanager_binary()  # skip or fail before anything starts
    system = EndToEnd(tmp_path)
    started = time.monotonic()
    with _quiet_werkzeug(), contextlib.ExitStack() as stack:
        # Callbacks run in reverse: Alertmanager stops first, then local mode, then the fakes.
        try:
            _start_aws_and_fakes(system, stack)
            _start_local_mode(system, stack)
            _start_alertmanager(system, stack, binary)
            system.timings["start-up"] = time.monotonic() - started
            yield system
        finally:
            # Shown by pytest only when the test failed.
            print(system.diagnostics())
