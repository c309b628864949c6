"""The assets work where Lambda runs them, with nothing but what they bundle: each is built for this
machine and run in a fresh interpreter whose path holds only the asset and what the Lambda runtime
provides (boto3), so a missing or unwanted dependency shows up as it would in Lambda."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_

import infra
from infra.bundling import (
    REQUIREMENTS_FILE,
    WEBHOOK_REQUIREMENTS_FILE,
    LocalPipBundler,
    TargetPlatform,
)
from infra.functions import Asset, FunctionSpec
from local_mode.langfuse_server import LangfuseCompatibleServer, seed_demo_prompt

REPO = Path(__file__).resolve().parents[2]
needs_pypi = pytest.mark.skipif(
    os.environ.get("SKIP_BUNDLING_TEST") == "1", reason="SKIP_BUNDLING_TEST=1 (needs PyPI)"
)


def pins(requirements_file: Path) -> dict[str, str]:
    found = {}
    for line in requirements_file.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s#]+)", line)
        if match:
            found[match.group(1).lower()] = line.split("#", 1)[0].strip()
    return found


def test_the_webhook_pins_are_the_workers():
    webhook, worker = pins(WEBHOOK_REQUIREMENTS_FILE), pins(REQUIREMENTS_FILE)
    # slack-sdk: SignatureVerifier for POST /slack/actions, which shares the webhook's asset.
    assert set(webhook) == {"aws-lambda-powertools", "pydantic", "slack-sdk"}
    for name, pin in webhook.items():
        assert worker[name] == pin


def _here() -> TargetPlatform:
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    runtime = lambda_.Runtime(version, lambda_.RuntimeFamily.PYTHON)
    arm = platform.machine() in ("aarch64", "arm64")
    return TargetPlatform(runtime, lambda_.Architecture.ARM_64 if arm else lambda_.Architecture.X86_64)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("assets")
    target = _here()
    LocalPipBundler(target).bundle_into(root / "worker")
    LocalPipBundler(target, requirements_file=WEBHOOK_REQUIREMENTS_FILE).bundle_into(root / "webhook")
    # What the Lambda runtime brings: boto3 (the version development pins) with its dependencies.
    dev_requirements = (REPO / "requirements-dev.txt").read_text().splitlines()
    boto3_pin = next(line.strip() for line in dev_requirements if line.startswith("boto3=="))
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-warn-conflicts", "--target", str(root / "runtime"), boto3_pin], check=True)
    return {"worker": root / "worker", "webhook": root / "webhook", "runtime": root / "runtime"}


# What the stack sets on the HTTP functions (names only: nothing here is reachable).
DEPLOYED_ENVIRONMENT = {
    "WEBHOOK_TOKEN_SECRET_NAME": "prompt-rollback/webhook-token",
    "ROLLBACK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/rollback.fifo",
    "AUDIT_TABLE_NAME": "prompt-rollback-audit",
    "IDEMPOTENCY_TABLE_NAME": "prompt-rollback-idempotency",
    "SLACK_SIGNING_SECRET_NAME": "prompt-rollback/slack-signing-secret",
}


def run_isolated(paths: list[Path], code: str, *arguments: str) -> dict:
    """Run `code` in an interpreter that sees the standard library and `paths`, nothing else."""
    prelude = f"import sys; sys.path[:0] = {[str(p) for p in paths]!r}\n"
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", prelude + code, *arguments],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", **DEPLOYED_ENVIRONMENT},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


WEBHOOK_CODE = """
import importlib.util, json
from prompt_rollback.slack import handler as slack_actions
from prompt_rollback.sources import webhook_handler as webhook

class Context:
    function_name = "webhook"; memory_limit_in_mb = 256; aws_request_id = "r"
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:webhook"
    def get_remaining_time_in_millis(self): return 10000

def post(path, headers, handler=webhook):
    context = {"requestId": "r", "stage": "prod", "path": "/prod" + path, "resourcePath": path,
               "httpMethod": "POST", "identity": {"sourceIp": "127.0.0.1"}}
    event = {"resource": path, "path": path, "httpMethod": "POST", "headers": headers, "body": "{}",
             "multiValueHeaders": {k: [v] for k, v in headers.items()}, "isBase64Encoded": False,
             "requestContext": context}
    return handler.lambda_handler(event, Context())["statusCode"]

modules = ("langfuse", "httpx", "slack_sdk", "requests", "pydantic", "aws_xray_sdk")
print(json.dumps({
    "unauthenticated": post("/alerts", {"Content-Type": "application/json"}),
    "unknown_route": post("/admin", {}),
    "unsigned_click": post(
        "/slack/actions", {"Content-Type": "application/x-www-form-urlencoded"}, slack_actions
    ),
    "present": {m: importlib.util.find_spec(m) is not None for m in modules},
}))
"""

WORKER_CODE = """
import importlib.util, json, sys
from prompt_rollback.worker import handler as worker
from prompt_rollback.adapters.langfuse_registry import LangfuseRegistry
from prompt_rollback.ports import PromptRef

registry = LangfuseRegistry(sys.argv[1], sys.argv[2], sys.argv[3], timeout_seconds=5)
ref = PromptRef("support-answer")
before = registry.read_state(ref)
registry.move_production(ref, 6)
after = registry.read_state(ref)
print(json.dumps({
    "before": before.production_version,
    "after": after.production_version,
    "versions": sorted(after.versions),
    "present": {m: importlib.util.find_spec(m) is not None for m in ("slack_sdk", "aws_xray_sdk")},
}))
"""


@needs_pypi
@pytest.mark.timeout(600)
def test_webhook_asset_serves_without_the_workers_clients(built):
    result = run_isolated([built["webhook"], built["runtime"]], WEBHOOK_CODE)
    assert result["unauthenticated"] == 401
    assert result["unknown_route"] == 404
    assert result["unsigned_click"] == 401  # the Slack actions function runs from this asset too
    assert result["present"] == {
        "langfuse": False,
        "httpx": False,
        # The Slack actions function shares this asset: slack_sdk is there for SignatureVerifier
        # (the webhook itself never imports it).
        "slack_sdk": True,
        "requests": False,
        "pydantic": True,
        "aws_xray_sdk": False,
    }


@needs_pypi
@pytest.mark.timeout(600)
def test_worker_asset_moves_a_langfuse_label_through_the_sdk_imported_as_usual(built):
    # `from langfuse.api.client import LangfuseAPI` runs langfuse/__init__.py: everything it
    # imports (its OpenTelemetry stack) must be in the asset, or the first rollback fails.
    with LangfuseCompatibleServer() as langfuse:
        seed_demo_prompt(langfuse.store)
        credentials = (langfuse.url, langfuse.public_key, langfuse.secret_key)
        result = run_isolated([built["worker"], built["runtime"]], WORKER_CODE, *credentials)
        assert langfuse.store.production_version("support-answer") == 6
    assert (result["before"], result["after"]) == (7, 6)
    assert result["versions"] == [1, 2, 3, 4, 5, 6, 7]
    assert result["present"] == {"slack_sdk": True, "aws_xray_sdk": False}


WATCHER_CODE = """
import json, sys
from datetime import datetime, UTC
import os
os.environ.update(LANGFUSE_HOST=sys.argv[1], LANGFUSE_PUBLIC_KEY=sys.argv[2], LANGFUSE_SECRET_KEY=sys.argv[3])
from prompt_rollback.watcher import handler as watcher
from prompt_rollback.watcher import wiring as watch_wiring

observed = watch_wiring.observer().observe(datetime.now(UTC))
print(json.dumps({
    "breaching": sorted(f"{o.key.prompt_name} v{o.key.prompt_version} {o.key.trigger}"
                        for o in observed.observations if o.breaching),
    "langfuse_calls": observed.langfuse_calls,
}))
"""


@needs_pypi
@pytest.mark.timeout(600)
def test_worker_asset_runs_the_watcher_measurements(built):
    """The watcher is deployed with the worker's asset: its measurement code needs nothing more."""
    from local_mode.langfuse_metrics import seed_demo_traffic

    with LangfuseCompatibleServer() as langfuse:
        seed_demo_prompt(langfuse.store)
        seed_demo_traffic(langfuse.metrics)
        credentials = (langfuse.url, langfuse.public_key, langfuse.secret_key)
        result = run_isolated([built["worker"], built["runtime"]], WATCHER_CODE, *credentials)
    assert result["breaching"] == ["support-answer v7 exact_match"]
    assert result["langfuse_calls"] == 7


def deployed_handlers(asset: Asset) -> list[str]:
    """Every function the stack deploys from `asset` (the FunctionSpecs of infra/), as module paths."""
    handlers = set()
    for module_info in pkgutil.iter_modules(infra.__path__, "infra."):
        for value in vars(importlib.import_module(module_info.name)).values():
            if isinstance(value, FunctionSpec) and value.asset is asset:
                handlers.add(value.handler.rsplit(".", 1)[0])
    return sorted(handlers)


EVERY_MODULE_CODE = """
import importlib, json, pkgutil, sys
import prompt_rollback

failed = {}
for handler in json.loads(sys.argv[1]):
    try:
        assert callable(importlib.import_module(handler).lambda_handler)
    except Exception as error:
        failed[handler] = repr(error)
if sys.argv[2] == "every-module":
    for module in pkgutil.walk_packages(prompt_rollback.__path__, "prompt_rollback."):
        # The developer's rule and dashboard generator (python -m prompt_rollback.detection, with
        # grafana-foundation-sdk from requirements-dev.txt): no function imports it.
        if not module.name.startswith("prompt_rollback.detection"):
            try:
                importlib.import_module(module.name)
            except Exception as error:
                failed[module.name] = repr(error)
print(json.dumps({"failed": failed}))
"""


@needs_pypi
@pytest.mark.timeout(600)
def test_every_deployed_handler_imports_from_its_asset_alone(built):
    """What the bundler leaves out is never imported: every entry point the stack deploys imports
    from its asset, and from the worker's, every module of the package (all adapters included)."""
    for asset, scope in ((Asset.WEBHOOK, "handlers"), (Asset.WORKER, "every-module")):
        handlers = deployed_handlers(asset)
        assert handlers, asset
        result = run_isolated(
            [built[asset.value], built["runtime"]], EVERY_MODULE_CODE, json.dumps(handlers), scope
        )
        assert result["failed"] == {}, asset


@needs_pypi
@pytest.mark.timeout(600)
def test_worker_asset_leaves_out_what_no_function_imports(built):
    worker = built["worker"]
    # Typing stubs are read by type checkers, never by the import system.
    assert not list(worker.rglob("*.pyi"))
    assert not list(worker.glob("*-stubs"))
    # requests (with charset_normalizer) serves only the OTLP exporter of Langfuse's tracing
    # client, which the worker never builds; wrapt only langfuse.openai.
    for package in ("requests", "charset_normalizer", "wrapt"):
        assert not (worker / package).exists(), package
        assert not list(worker.glob(f"{package}-*.dist-info")), package
    # What the worker's Langfuse client does import stays.
    for package in ("langfuse", "opentelemetry", "httpx", "httpx2", "truststore", "anyio"):
        assert (worker / package).is_dir(), package
