"""One cold start in this fresh interpreter (`python -m bench.cold_start SPEC.json`): the handler's
import and its first request, timed together; moto serves AWS in-process, set up between the two
and untimed. Prints {"import": s, "request": s} last; the caller builds SPEC (bench/__main__.py)."""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from typing import Any


def _serve_aws(prefix: str, webhook_token: str) -> Any:
    """moto's in-process AWS with the resources local mode makes; returns the running mock."""
    import boto3
    from moto import mock_aws

    from local_mode.aws_resources import provision

    mock = mock_aws()
    mock.start()
    # Made on a session of their own, which is dropped after: the handler's first clients start
    # the default session and load their service models and endpoints themselves, as in Lambda.
    boto3.setup_default_session()
    resources = provision(prefix=prefix, webhook_token=webhook_token, visibility_timeout_seconds=0)
    boto3.DEFAULT_SESSION = None
    os.environ.update(resources.environment())
    return mock


def main(spec_path: str) -> None:
    with open(spec_path) as file:
        spec: dict[str, Any] = json.load(file)
    # What the development venv has and the worker's asset has not (bench/__main__.py).
    sys.modules.update(dict.fromkeys(spec["absent_modules"]))
    started = time.perf_counter()
    handler = importlib.import_module(spec["module"])
    imported = time.perf_counter() - started

    mock = _serve_aws(spec["prefix"], spec["webhook_token"])
    from local_mode.lambda_runtime import LocalLambdaContext

    context = LocalLambdaContext(spec["function"])
    started = time.perf_counter()
    result = handler.lambda_handler(spec["event"], context)
    answered = time.perf_counter() - started
    mock.stop()
    for key, expected in spec["expect"].items():
        if result.get(key) != expected:
            raise SystemExit(f"{spec['function']} answered {result}, expected {key}={expected!r}")
    sys.stdout.flush()
    print(json.dumps({"import": imported, "request": answered}))


if __name__ == "__main__":
    main(sys.argv[1])
