"""`python -m bench` (or `make bench`): every performance figure, each next to its target with PASS/MISS,
written to docs/performance-figures.md (the one place the docs take figures from). `--quick`: a smoke
run, printed only; `--skip-asset`: no pip (offline)."""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "lambdas"), str(REPO)]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

FIRING_FIXTURE = REPO / "tests" / "fixtures" / "alertmanager" / "firing-0.25.0.json"
MB = 1_000_000
MAX_NETWORK_CALLS = 6
LOCAL_ALERT_TO_LABEL_P99_MS = 150
# Unzipped; the worker's carries langfuse with OpenTelemetry and protobuf (docs/performance.md).
ASSET_LIMIT_MB = {"webhook": 15, "worker": 25}  # an older shared asset: 15
NOTES: list[str] = []  # printed under the table


@dataclass
class Row:
    metric: str
    figure: str
    target: str = ""
    verdict: str = ""


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "MISS")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def firing_body() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(FIRING_FIXTURE.read_text())
    return body


@contextlib.contextmanager
def stdout_discarded() -> Iterator[None]:
    """The handlers log and emit metrics to stdout (bound at import): keep the cost, drop the text."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


# ---- 1. cold imports ----------------------------------------------------------------------------
WEBHOOK, WORKER = "prompt_rollback.sources.webhook_handler", "prompt_rollback.worker.handler"
# The worker's first Langfuse request also pays for the client (langfuse, imported as usual).
LANGFUSE_CLIENT = (
    "\nfrom prompt_rollback.adapters.langfuse_registry import LangfuseRegistry\n"
    "LangfuseRegistry('http://127.0.0.1:9', 'pk', 'sk')"
)
# What the development venv has and the worker's asset has not, though libraries import it when
# they can: numpy (the regression gate's; langfuse's serializer) and httpx's command line (click,
# pygments, rich). Measured as in the asset, without them.
NOT_IN_THE_ASSET = ("numpy", "click", "pygments", "rich")
AS_IN_THE_ASSET = f"import sys\nsys.modules.update(dict.fromkeys({NOT_IN_THE_ASSET!r}))\n"


@dataclass(frozen=True)
class ImportCase:
    label: str
    statement: str
    prelude: str = ""
    target_ratio: float | None = None


IMPORT_CASES = (
    ImportCase("cold import boto3 (baseline)", "import boto3"),
    ImportCase("cold import webhook handler", f"import {WEBHOOK}", target_ratio=1.5),
    ImportCase("cold import worker handler", f"import {WORKER}", target_ratio=1.5),
    ImportCase(
        "cold import worker + its Langfuse client", f"import {WORKER}{LANGFUSE_CLIENT}", AS_IN_THE_ASSET
    ),
)


def fresh_environment(bytecode_cache: Path) -> dict[str, str]:
    """A fresh interpreter's environment: none of this one's AWS, Powertools, Langfuse or Slack."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "POWERTOOLS_", "LANGFUSE_", "SLACK_"))
    }
    environment["PYTHONPATH"] = os.pathsep.join([str(REPO / "lambdas"), str(REPO)])
    environment["AWS_DEFAULT_REGION"] = "us-east-1"
    # With bytecode, as Lambda runs the assets (they ship .pyc): PYTHONDONTWRITEBYTECODE would
    # make every run compile every module from source. The cache lives outside the checkout.
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment["PYTHONPYCACHEPREFIX"] = str(bytecode_cache)
    return environment


def cold_import_seconds(case: ImportCase, bytecode_cache: Path) -> float:
    timed = f"{case.prelude}{case.statement}"
    code = f"import time\n_s = time.perf_counter()\n{timed}\nprint(time.perf_counter() - _s)"
    environment = fresh_environment(bytecode_cache)
    completed = subprocess.run(  # noqa: PLW1510 - checked below
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=REPO
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr)
    return float(completed.stdout.strip().splitlines()[-1])


# Each handler module's cold import as a ratio to `import boto3` in the same run: a fresh
# interpreter per measurement, median of N, the runs interleaved.
def bench_imports(runs: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as folder:
        cache = Path(folder)
        for case in IMPORT_CASES:  # warm the bytecode cache; not measured
            cold_import_seconds(case, cache)
        samples: dict[str, list[float]] = {case.label: [] for case in IMPORT_CASES}
        for _ in range(runs):  # interleaved, so a noisy moment spreads over all of them
            for case in IMPORT_CASES:
                samples[case.label].append(cold_import_seconds(case, cache))
    medians = {label: statistics.median(values) for label, values in samples.items()}
    baseline = medians[IMPORT_CASES[0].label]
    rows = []
    for case in IMPORT_CASES:
        seconds = medians[case.label]
        ratio = seconds / baseline
        figure = f"{seconds * 1000:.0f} ms" + ("" if case is IMPORT_CASES[0] else f" = {ratio:.2f}x boto3")
        limit = case.target_ratio
        rows.append(
            Row(
                case.label,
                figure,
                f"<= {limit}x boto3" if limit else "",
                verdict(ratio <= limit) if limit else "",
            )
        )
    return rows


# A cold start as Lambda runs one: a fresh interpreter imports the handler, then answers its first
# request (the webhook: the captured Alertmanager body; the worker: one SQS record, the first
# rollback of its own prompt against the Langfuse-compatible server and a Slack incoming-webhook
# server over loopback). Both timed together (bench/cold_start.py), as ratios to `import boto3`
# in the same run: a cost moved from the import to the first request is still counted.
def bench_cold_starts(runs: int) -> list[Row]:
    samples = _cold_start_samples(runs)
    baseline = statistics.median(imported for imported, _ in samples["boto3"])
    rows = []
    for name, module in (("webhook", WEBHOOK), ("worker", WORKER)):
        total = statistics.median(imported + answered for imported, answered in samples[module])
        request = statistics.median(answered for _, answered in samples[module])
        figure = f"{total * 1000:.0f} ms = {total / baseline:.2f}x boto3 (request {request * 1000:.0f} ms)"
        rows.append(Row(f"cold start {name}: import + first request", figure))
    NOTES.append(
        f"cold starts: fresh interpreter, median of {runs}, boto3 {baseline * 1000:.0f} ms alongside"
    )
    return rows


_FUNCTION_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_SERVICE_NAME": "prompt-rollback",
    "POWERTOOLS_METRICS_NAMESPACE": "PromptRollback",
    "STAGE": "bench",
}


def _cold_start_samples(runs: int) -> dict[str, list[tuple[float, float]]]:
    """(import, first request) seconds per run of boto3 (no request), the webhook and the worker."""
    from local_mode.lambda_runtime import api_gateway_event
    from local_mode.langfuse_server import LangfuseCompatibleServer
    from tests.integration.slack_server import SlackWebhookServer

    token = uuid.uuid4().hex
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    alert = api_gateway_event("POST", "/alerts", headers, json.dumps(firing_body()).encode())
    spec = {"prefix": "bench-cold", "webhook_token": token, "absent_modules": list(NOT_IN_THE_ASSET)}
    samples: dict[str, list[tuple[float, float]]] = {"boto3": [], WEBHOOK: [], WORKER: []}
    slack = SlackWebhookServer().start()
    with LangfuseCompatibleServer() as langfuse, tempfile.TemporaryDirectory(prefix="bench-cold-") as folder:
        cache = Path(folder) / "pycache"
        environment = {
            **fresh_environment(cache),
            **_FUNCTION_ENVIRONMENT,
            "LANGFUSE_HOST": langfuse.url,
            "LANGFUSE_PUBLIC_KEY": langfuse.public_key,
            "LANGFUSE_SECRET_KEY": langfuse.secret_key,
            "SLACK_WEBHOOK_URL": slack.url,
        }
        for run in range(runs + 1):  # the first warms the bytecode cache; not measured
            prompt = f"bench-cold-{run}"
            for version in (1, 2, 3):
                langfuse.store.create(prompt, f"v{version}", labels=["production"])
            record = _sqs_record(_alert_request(prompt, alerted_version=3))
            measured = {
                "boto3": (cold_import_seconds(IMPORT_CASES[0], cache), 0.0),
                WEBHOOK: _cold_start(
                    {**spec, "module": WEBHOOK, "function": "webhook", "event": alert},
                    {"statusCode": 202},
                    environment,
                ),
                WORKER: _cold_start(
                    {**spec, "module": WORKER, "function": "worker", "event": {"Records": [record]}},
                    {"batchItemFailures": []},
                    environment,
                ),
            }
            assert langfuse.store.production_version(prompt) == 2, f"{prompt} was not rolled back"
            for key, value in measured.items():
                samples[key] += [value] if run else []
    slack.stop()
    return samples


def _cold_start(
    spec: dict[str, Any], expect: dict[str, Any], environment: dict[str, str]
) -> tuple[float, float]:
    """(import, first request) seconds of one fresh interpreter."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="bench-cold-") as file:
        json.dump({**spec, "expect": expect}, file)
        file.flush()
        completed = subprocess.run(  # noqa: PLW1510 - checked below
            [sys.executable, "-m", "bench.cold_start", file.name],
            capture_output=True,
            text=True,
            env=environment,
            cwd=REPO,
        )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr or completed.stdout)
    measured = json.loads(completed.stdout.strip().splitlines()[-1])
    return float(measured["import"]), float(measured["request"])


# ---- 2./3. warm in-process latency --------------------------------------------------------------
def _aws_test_environment() -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LANGFUSE_SECRET_NAME", "SLACK_WEBHOOK_SECRET_NAME"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        POWERTOOLS_SERVICE_NAME="prompt-rollback",
        POWERTOOLS_METRICS_NAMESPACE="PromptRollback",
        STAGE="bench",
    )


def _langfuse_resource(path: str) -> str:
    # /api/public/v2/prompts, /api/public/v2/prompts/{name}, .../prompts/{name}/versions/{n}
    if "/versions/" in path:
        return "prompt version"
    return "prompts" if path.rstrip("/").endswith("/prompts") else "prompt"


class NetworkCalls:
    """Counts what one piece of work sends over the network, by the clients' own send paths:
    botocore (each attempt, moto answers it in-process), httpx (the langfuse SDK) and slack_sdk's
    webhook client (each attempt)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._saved: list[tuple[Any, str, Any]] = []

    def _wrap(self, owner: Any, name: str, describe: Callable[..., str]) -> None:
        original = getattr(owner, name)
        calls = self.calls

        def counted(*args: Any, **kwargs: Any) -> Any:
            calls.append(describe(*args, **kwargs))
            return original(*args, **kwargs)

        self._saved.append((owner, name, original))
        setattr(owner, name, counted)

    def __enter__(self) -> NetworkCalls:
        import botocore.endpoint
        import httpx
        import slack_sdk.webhook.client

        self._wrap(
            botocore.endpoint.Endpoint,
            "_do_get_response",
            lambda endpoint, request, operation_model, context: (
                f"{operation_model.service_model.service_name} {operation_model.name}"
            ),
        )
        self._wrap(
            httpx.HTTPTransport,
            "handle_request",
            lambda transport, request: f"langfuse {request.method} {_langfuse_resource(request.url.path)}",
        )
        self._wrap(
            slack_sdk.webhook.client.WebhookClient, "_perform_http_request_internal", lambda *a: "slack POST"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)

    def summary(self) -> str:
        kinds: dict[str, int] = {}
        for call in self.calls:
            kinds[call] = kinds.get(call, 0) + 1
        return ", ".join(f"{count}x {kind}" for kind, count in kinds.items())


def _rollback_with_previous_on_record(store: Any, handle: Callable[[str], None]) -> Row:
    """The network calls of the same rollback when a change record names the version before
    production (a person's move, heard from Langfuse's webhooks): the version list is not read."""
    for version in (1, 2, 3):
        store.create("bench-recorded", f"v{version}", labels=["production"])
    store.set_labels("bench-recorded", 2, ["production"])
    _person_moves_production(store, "bench-recorded", 3)
    with NetworkCalls() as recorded:
        handle("bench-recorded")
    assert store.production_version("bench-recorded") == 2
    NOTES.append(f"network calls of one warm rollback: {recorded.summary()}")
    return Row(
        "network calls of one warm rollback (previous production on record, a person's move)",
        f"{len(recorded.calls)}",
        f"<= {MAX_NETWORK_CALLS}",
        verdict(len(recorded.calls) <= MAX_NETWORK_CALLS),
    )


WEBHOOK_SECRET = "lf-whsec_" + "be" * 32


def _person_moves_production(store: Any, prompt: str, version: int) -> None:
    """Someone moves production to `version` in Langfuse: its two signed webhooks reach the handler."""
    from prompt_rollback.changes import langfuse_handler

    from local_mode.lambda_runtime import LocalLambdaContext, api_gateway_event
    from tests.langfuse_webhooks import prompt_event, serialize, sign

    before = store.production_version(prompt)
    store.set_labels(prompt, version, ["production"])
    for changed, labels in ((version, ["production"]), (before, [])):
        body = serialize(prompt_event(f"evt_{uuid.uuid4().hex}", prompt, changed, labels))
        headers = {"Content-Type": "application/json", "x-langfuse-signature": sign(body, WEBHOOK_SECRET)}
        event = api_gateway_event("POST", "/langfuse/events", headers, body)
        result = langfuse_handler.lambda_handler(event, LocalLambdaContext("langfuse-events"))
        assert result["statusCode"] == 200, result


class EmbeddedAws:
    """Seconds spent in botocore's sends, which moto answers in-process: a warm row shows them apart
    from the product's own time (a deployed function waits on the real service instead)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._original: Any = None

    def __enter__(self) -> EmbeddedAws:
        import botocore.endpoint

        endpoint: Any = botocore.endpoint.Endpoint
        self._original = original = endpoint._do_get_response

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        endpoint._do_get_response = timed
        return self

    def __exit__(self, *exc: object) -> None:
        import botocore.endpoint

        endpoint: Any = botocore.endpoint.Endpoint
        endpoint._do_get_response = self._original


def _timed_apart(call: Callable[[], Any], count: int, warmup: int) -> tuple[list[float], list[float]]:
    """Each call's seconds, and the embedded AWS's seconds within it."""
    for _ in range(warmup):
        call()
    totals, aws = [], []
    with EmbeddedAws() as embedded:
        for _ in range(count):
            before, started = embedded.seconds, time.perf_counter()
            call()
            totals.append(time.perf_counter() - started)
            aws.append(embedded.seconds - before)
    return totals, aws


def _spread_rows(
    name: str, totals: list[float], aws: list[float], share: str, goal_ms: float | None = None
) -> list[Row]:
    """The whole time, moto's share and the product's share (a goal is on the product's)."""
    product = [total - inside for total, inside in zip(totals, aws, strict=True)]

    def spread(samples: list[float]) -> str:
        return f"p50 {percentile(samples, 0.5) * 1000:.1f} ms, p99 {percentile(samples, 0.99) * 1000:.1f} ms"

    product_p99 = percentile(product, 0.99) * 1000
    goal = "" if goal_ms is None else f"p99 < {goal_ms:.0f} ms"
    met = None if goal_ms is None else product_p99 < goal_ms
    return [
        Row(name, spread(totals)),
        Row("  embedded AWS, moto in-process (of it)", spread(aws)),
        Row(f"  {share} (of it)", spread(product), goal, verdict(met)),
    ]


def _alert_request(prompt_name: str, alerted_version: int) -> Any:
    """A request as the webhook queues an alert: its id made from its fingerprint and startsAt."""
    from prompt_rollback.domain.requests import RollbackRequest, Trigger, alert_request_id

    now = datetime.now(UTC)
    return RollbackRequest(
        request_id=alert_request_id("langfuse", prompt_name, prompt_name, now),
        prompt_name=prompt_name,
        alerted_version=alerted_version,
        trigger=Trigger(alertname="PromptRegression", fingerprint=prompt_name, starts_at=now),
        received_at=now,
    )


def _sqs_record(request: Any) -> dict[str, Any]:
    """The request as the worker receives it from the queue, delivered once."""
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "bench",
        "body": request.model_dump_json(),
        "attributes": {"ApproximateReceiveCount": "1", "MessageGroupId": request.prompt_name},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench.fifo",
        "awsRegion": "us-east-1",
    }


# Warm p50/p99 in-process (moto): the webhook on the captured Alertmanager body; the worker on one SQS
# record, each a first rollback of its own prompt, against the Langfuse-compatible server and a Slack
# incoming-webhook server over loopback, with the network calls one such rollback makes, by client.
def bench_in_process(webhook_calls: int, worker_records: int) -> list[Row]:
    from moto import mock_aws

    from local_mode.aws_resources import provision
    from local_mode.lambda_runtime import LocalLambdaContext, api_gateway_event
    from local_mode.langfuse_server import LangfuseCompatibleServer
    from tests.integration.slack_server import SlackWebhookServer

    _aws_test_environment()
    token = uuid.uuid4().hex
    rows: list[Row] = []
    slack = SlackWebhookServer().start()  # Slack's incoming-webhook contract, on loopback
    with mock_aws(), LangfuseCompatibleServer() as langfuse:
        resources = provision(prefix="bench", webhook_token=token, visibility_timeout_seconds=0)
        os.environ.update(resources.environment())
        os.environ.update(
            LANGFUSE_HOST=langfuse.url,
            LANGFUSE_PUBLIC_KEY=langfuse.public_key,
            LANGFUSE_SECRET_KEY=langfuse.secret_key,
            LANGFUSE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        )
        os.environ["SLACK_WEBHOOK_URL"] = slack.url
        from prompt_rollback import wiring
        from prompt_rollback.sources import webhook_handler as webhook
        from prompt_rollback.worker import handler as worker

        wiring.reset()

        # The webhook: the same captured body each time (SQS de-duplicates the repeats, which keeps
        # moto's queue, whose cost grows with its depth, as small as a drained production queue).
        event = api_gateway_event(
            "POST",
            "/alerts",
            {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            json.dumps(firing_body()).encode(),
        )

        def post() -> None:
            result = webhook.lambda_handler(event, LocalLambdaContext("webhook"))
            assert result["statusCode"] == 202, result

        totals, aws = _timed_apart(post, webhook_calls, warmup=20)
        name = f"webhook handler warm, in-process ({webhook_calls} calls)"
        rows += _spread_rows(name, totals, aws, "product's share: handler code and botocore", 10)

        # The worker: one SQS record per invocation, each the first rollback of its own prompt
        # (v3 in production, back to v2): the full path, not an idempotent replay or a skip.
        warmup = 5
        prompts = worker_records + warmup + 1  # the last one is counted, not timed
        for index in range(prompts):
            for version in (1, 2, 3):
                langfuse.store.create(f"bench-{index}", f"v{version}", labels=["production"])
        names = (f"bench-{index}" for index in range(prompts))

        def handle(prompt_name: str) -> None:
            record = _sqs_record(_alert_request(prompt_name, alerted_version=3))
            result = worker.lambda_handler({"Records": [record]}, LocalLambdaContext("worker"))
            assert result == {"batchItemFailures": []}, result

        totals, aws = _timed_apart(lambda: handle(next(names)), worker_records, warmup=warmup)
        with NetworkCalls() as network:  # one more, warm: what a rollback sends
            handle(next(names))
        store = langfuse.store
        assert all(store.production_version(f"bench-{i}") == 2 for i in range(prompts))
        assert len(slack.messages) == prompts
        name = f"worker, one SQS record (a rollback) warm, in-process ({worker_records} records)"
        rest = "the rest: handler code, botocore, loopback Langfuse and Slack"
        rows += _spread_rows(name, totals, aws, rest)
        rows.append(_rollback_with_previous_on_record(langfuse.store, handle))
        rows.append(
            Row(
                "  the same, nothing on record yet (the version list is read)",
                f"{len(network.calls)}",
                f"<= {MAX_NETWORK_CALLS + 1} (6 + the list)",
                verdict(len(network.calls) <= MAX_NETWORK_CALLS + 1),
            )
        )
        NOTES.append(f"network calls, nothing on record yet: {network.summary()}")
        wiring.reset()
    slack.stop()
    os.environ.pop("SLACK_WEBHOOK_URL", None)
    return rows


# ---- 4. local mode ------------------------------------------------------------------------------
# Alert to label moved in local mode: from the HTTP POST until the worker holds Langfuse's answer
# to the move (bench/local_path.py splits it into the queue poll, embedded AWS and Langfuse, and
# the product's own share).
def bench_local_mode(alerts: int) -> list[Row]:
    import requests

    from bench.local_path import AlertTimes, LocalPath
    from local_mode.langfuse_server import seed_demo_prompt
    from local_mode.service import DEMO_TOKEN, LocalService, LocalSettings

    for name in ("AWS_ENDPOINT_URL", "LANGFUSE_HOST", "SLACK_WEBHOOK_URL", "ROLLBACK_POLICY"):
        os.environ.pop(name, None)
    times: list[AlertTimes] = []
    with open(os.devnull, "w") as quiet:
        service = LocalService(LocalSettings(port=0, aws_port=0, poll_wait_seconds=1), out=quiet)
        service.start()
        path = LocalPath()
        try:
            from prompt_rollback import wiring

            assert service.langfuse is not None
            ledger, session = wiring.audit_ledger(), requests.Session()
            with path.installed(service):
                for index in range(alerts + 2):
                    prompt = f"local-bench-{index}"
                    seed_demo_prompt(service.langfuse.store, prompt)  # v7 in production, as the demo
                    # Untimed: the 13 prompt-version webhooks of the seeding (and the 2 of the last
                    # move) are recorded first. Local mode runs one invocation at a time, and they
                    # come faster than it records them: the alert would queue behind a backlog.
                    _webhooks_recorded(service, prompt)
                    body = copy.deepcopy(firing_body())
                    body["alerts"][0]["labels"]["prompt_name"] = prompt
                    body["alerts"][0]["fingerprint"] = uuid.uuid4().hex[:16]
                    alert = path.alert()
                    response = session.post(
                        f"{service.url}/alerts",
                        data=json.dumps(body).encode(),
                        headers={"Authorization": f"Bearer {DEMO_TOKEN}", "Content-Type": "application/json"},
                        timeout=30,
                    )
                    alert.answered = time.perf_counter()
                    rollback_id = response.json()["accepted"][0]["rollback_id"]
                    _wait_for(alert.has_label_moved, f"{prompt}'s label move")
                    # Untimed: the decision is written before the next alert starts.
                    _wait_for(partial(_decided, ledger, prompt, rollback_id), f"{rollback_id}'s decision")
                    if index >= 2:  # the first two warm the poller, the clients and langfuse's import
                        times.append(alert)
        finally:
            service.stop()
    return _local_path_rows(alerts, times)


def _decided(ledger: Any, prompt: str, rollback_id: str) -> bool:
    return any(
        r.is_decision and getattr(r, "request_id", "") == rollback_id
        for r in ledger.recent(f"langfuse#{prompt}", 5)
    )


def _wait_for(done: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.perf_counter() + seconds
    while not done():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"no {what} within {seconds:.0f} s")
        time.sleep(0.001)


def _local_path_rows(alerts: int, times: list[Any]) -> list[Row]:
    def spread(seconds: list[float]) -> tuple[float, float, str]:
        p50, p99 = percentile(seconds, 0.5) * 1000, percentile(seconds, 0.99) * 1000
        return p50, p99, f"p50 {p50:.0f} ms, p99 {p99:.0f} ms"

    _, total_p99, total = spread([t.total for t in times])
    rows = [
        Row(
            f"alert to label moved, local mode over HTTP ({alerts} alerts)",
            total,
            f"p99 < {LOCAL_ALERT_TO_LABEL_P99_MS} ms",
            verdict(total_p99 < LOCAL_ALERT_TO_LABEL_P99_MS),
        )
    ]
    parts = (
        ("webhook until queued, over HTTP (of it)", [t.queued - t.posted for t in times]),
        ("queue poll wait, local mode's (of it)", [t.poll_wait for t in times]),
        ("embedded AWS, moto in-process (of it)", [t.embedded_aws for t in times]),
        ("embedded Langfuse store (of it)", [t.embedded_langfuse for t in times]),
    )
    rows += [Row(f"  {name}", spread(seconds)[2]) for name, seconds in parts]
    _, product_p99, product = spread([t.product for t in times])
    rows.append(
        Row(
            "  product's share: handlers' own code and HTTP (of it)",
            product,
            f"p99 < {LOCAL_ALERT_TO_LABEL_P99_MS} ms",
            verdict(product_p99 < LOCAL_ALERT_TO_LABEL_P99_MS),
        )
    )
    return rows


# Slack app mode: the answer to a signed Undo click (Slack wants it within 3 s) and the time from
# the click to the label moving back.
def bench_local_mode_clicks(clicks: int) -> list[Row]:
    import requests
    from slack_sdk.signature import SignatureVerifier

    from local_mode.langfuse_server import seed_demo_prompt
    from local_mode.service import DEMO_TOKEN, LocalService, LocalSettings
    from local_mode.slack_click import LOCAL_APPROVER, click_body

    for name in ("AWS_ENDPOINT_URL", "LANGFUSE_HOST", "SLACK_WEBHOOK_URL", "ROLLBACK_POLICY"):
        os.environ.pop(name, None)
    settings = LocalSettings(
        port=0, aws_port=0, poll_wait_seconds=1, environment={"SLACK_BOT_TOKEN": "xoxb-local-bench"}
    )
    with open(os.devnull, "w") as quiet:
        service = LocalService(settings, out=quiet)
        service.start()
        try:
            assert service.langfuse is not None and service.slack_api is not None
            store, session = service.langfuse.store, requests.Session()
            verifier = SignatureVerifier(os.environ["SLACK_SIGNING_SECRET"])
            answers: list[float] = []
            moves: list[float] = []
            for index in range(clicks + 2):
                prompt = f"click-bench-{index}"
                seed_demo_prompt(store, prompt)
                body = copy.deepcopy(firing_body())
                body["alerts"][0]["labels"]["prompt_name"] = prompt
                body["alerts"][0]["fingerprint"] = uuid.uuid4().hex[:16]
                accepted = session.post(
                    f"{service.url}/alerts",
                    data=json.dumps(body).encode(),
                    headers={"Authorization": f"Bearer {DEMO_TOKEN}", "Content-Type": "application/json"},
                    timeout=30,
                ).json()["accepted"][0]
                _wait_for_production(store, prompt, 6)
                _webhooks_recorded(service, prompt)  # as for the alert row: no backlog ahead of the click
                form = click_body(
                    accepted["rollback_id"], "undo", LOCAL_APPROVER, "C0LOCALDEV", f"{time.time():.6f}"
                )
                stamp = str(int(time.time()))
                started = time.perf_counter()
                response = session.post(
                    f"{service.url}/slack/actions",
                    data=form,
                    headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "X-Slack-Request-Timestamp": stamp,
                        "X-Slack-Signature": str(verifier.generate_signature(timestamp=stamp, body=form)),
                    },
                    timeout=30,
                )
                answered = time.perf_counter()
                if response.status_code != 200:
                    raise RuntimeError(f"click answered {response.status_code}")
                _wait_for_production(store, prompt, 7)
                if index >= 2:  # the first two warm the poller and the clients
                    answers.append(answered - started)
                    moves.append(time.perf_counter() - started)
        finally:
            service.stop()
    answer_p99 = percentile(answers, 0.99) * 1000
    return [
        Row(
            f"Slack click answered, local mode ({clicks} Undo clicks)",
            f"p50 {percentile(answers, 0.5) * 1000:.0f} ms, p99 {answer_p99:.0f} ms",
            "p99 < 3000 ms (Slack's limit)",
            verdict(answer_p99 < 3000),
        ),
        Row(
            "Slack click to label moved back, local mode",
            f"p50 {percentile(moves, 0.5) * 1000:.0f} ms, p99 {percentile(moves, 0.99) * 1000:.0f} ms",
        ),
    ]


def _webhooks_recorded(service: Any, prompt: str, seconds: float = 30) -> None:
    if not (service.webhooks and service.webhooks.wait_idle(seconds)):
        raise RuntimeError(f"{prompt}'s prompt-version webhooks not recorded within {seconds:.0f} s")


def _wait_for_production(store: Any, prompt: str, version: int, seconds: float = 30) -> None:
    deadline = time.perf_counter() + seconds
    while store.production_version(prompt) != version:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{prompt} did not reach v{version} within {seconds:.0f} s")
        time.sleep(0.002)


# ---- 5. assets ----------------------------------------------------------------------------------
# The unzipped size of each Lambda asset, built by infra/bundling.py into a temporary folder.
def bench_assets() -> list[Row]:
    from infra import bundling
    from infra.functions import LAMBDA_TARGET

    rows = []
    for name, bundler in _asset_bundlers(bundling, LAMBDA_TARGET):
        with tempfile.TemporaryDirectory(prefix="bench-asset-") as folder:
            output = Path(folder) / "asset"
            started = time.monotonic()
            try:
                with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):
                    bundler.bundle_into(output)
            except Exception as error:
                limit = ASSET_LIMIT_MB.get(name, 15)
                failed = f"not built: {type(error).__name__}"
                rows.append(Row(f"asset {name}, unzipped", failed, f"< {limit} MB"))
                continue
            size = bundling.directory_size_bytes(output) / MB
            has_bytecode = any(output.rglob("*.pyc"))
            biggest = _biggest_distributions(output)
            rows.append(
                Row(
                    f"asset {name}, unzipped ({'with' if has_bytecode else 'no'} .pyc; "
                    f"built in {time.monotonic() - started:.0f}s)",
                    f"{size:.1f} MB",
                    f"< {ASSET_LIMIT_MB.get(name, 15)} MB",
                    verdict(size < ASSET_LIMIT_MB.get(name, 15)),
                )
            )
            NOTES.append(f"largest in the {name} asset: {biggest}")
    return rows


def _asset_bundlers(bundling: Any, target: Any) -> list[tuple[str, Any]]:
    """Every asset the CDK app builds: one per function, or the one both share (older layouts)."""
    webhook_requirements = getattr(bundling, "WEBHOOK_REQUIREMENTS_FILE", None)
    if webhook_requirements is None:
        return [("shared by webhook + worker", bundling.LocalPipBundler(target))]
    return [
        ("webhook", bundling.LocalPipBundler(target, requirements_file=webhook_requirements)),
        ("worker", bundling.LocalPipBundler(target)),
    ]


def _biggest_distributions(site: Path, top: int = 5) -> str:
    sizes: dict[str, int] = {}
    for entry in site.iterdir():
        if entry.name.endswith((".dist-info", "__pycache__")):
            continue
        key = entry.name.removesuffix(".py")
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        sizes[key] = sizes.get(key, 0) + sum(p.stat().st_size for p in files)
    ranked = sorted(sizes.items(), key=lambda item: -item[1])[:top]
    return ", ".join(f"{name} {size / MB:.1f}" for name, size in ranked) + " (MB)"


# ---- report -------------------------------------------------------------------------------------
def machine() -> str:
    return (
        f"{datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


FIGURES = REPO / "docs" / "performance-figures.md"


def table_lines(rows: list[Row]) -> list[str]:
    widths = [max(len(getattr(r, field)) for r in rows) for field in ("metric", "figure", "target")]
    header = Row("metric", "figure", "target", "")
    lines = []
    for row in [header, Row("-" * widths[0], "-" * widths[1], "-" * widths[2], "----"), *rows]:
        cells = (row.metric.ljust(widths[0]), row.figure.ljust(widths[1]), row.target.ljust(widths[2]))
        lines.append("  ".join((*cells, row.verdict)).rstrip())
    return lines


def bench_watcher(runs: int) -> list[Row]:
    """One warm watcher run (bench/watcher.py) for 1, 100 and 500 production prompts."""
    from bench import watcher

    rows = []
    for count in (1, 100, 500):
        # A fresh process each: its peak RSS is the watcher's, not this bench's.
        code = (
            "import json, sys; sys.path[:0] = ['lambdas', '.']; from bench import watcher; "
            f"watcher._environment(); print(json.dumps(watcher.measure({count}, {runs})))"
        )
        measured = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
        )
        row = json.loads(measured.stdout.strip().splitlines()[-1])
        calls = "/".join(str(c) for c in row["langfuse_calls"])
        rows += [
            Row(f"watcher run, {count} prompt(s): Langfuse calls", calls),
            Row(
                f"watcher run, {count} prompt(s): warm",
                f"p50 {row['p50_ms']:.0f} ms, p99 {row['p99_ms']:.0f} ms",
            ),
            Row(f"watcher run, {count} prompt(s): process peak RSS", f"{row['peak_rss_mb']:.0f} MB"),
        ]
    rows.append(Row("watcher handler imports alone, RSS", f"{watcher.import_rss_mb():.0f} MB", "< 256 MB"))
    return rows


def write_figures(lines: list[str]) -> None:
    FIGURES.write_text(
        "# Performance figures\n\n"
        "Generated by `make bench` (`python -m bench`); do not edit by hand. What each figure means and\n"
        "how it is measured: [performance.md](performance.md).\n\n```\n" + "\n".join(lines) + "\n```\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke test of the bench)")
    parser.add_argument("--skip-asset", action="store_true", help="do not build the Lambda assets (no pip)")
    args = parser.parse_args()
    runs, calls, records, alerts = (2, 100, 20, 5) if args.quick else (5, 1000, 200, 50)

    print(f"prompt-rollback benchmark: {machine()}", flush=True)
    started = machine()
    rows = bench_imports(runs)
    rows += bench_cold_starts(runs)
    # The handlers log and emit metrics to stdout, local mode's worker from its own thread.
    with stdout_discarded():
        rows += bench_in_process(calls, records)
        rows += bench_local_mode(alerts)
        rows += bench_local_mode_clicks(max(5, alerts // 2))
        from bench.exporter import bench_exporter

        rows += [
            Row(metric, figure, target, verdict(ok))
            for metric, figure, target, ok in bench_exporter(2 if args.quick else 5)
        ]
        rows += bench_watcher(2 if args.quick else 20)

    from bench.rollout_stats import Schedule, run

    rows += [Row(*row[:3], verdict(row[3])) for row in run(200 if args.quick else 1000, Schedule())]
    if not args.skip_asset:
        rows += bench_assets()
    notes = [
        f"imports: fresh interpreter, median of {runs}, interleaved",
        "latencies include moto's in-process AWS",
        *NOTES,
    ]
    lines = [f"measured {started}", "", *table_lines(rows), "", *(f"- {note}" for note in notes)]
    print("\n" + "\n".join(lines[2:]))
    if not args.quick:
        write_figures(lines)
        print(f"\nwritten to {FIGURES.relative_to(REPO)}")


if __name__ == "__main__":
    main()
