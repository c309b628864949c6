"""The bench's cold imports run with bytecode, as Lambda does (the assets ship .pyc): an environment
that forbids writing bytecode must not turn them into source compiles. A cold start is the real
handler's import and first answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.__main__ import (
    AS_IN_THE_ASSET,
    WEBHOOK,
    ImportCase,
    _cold_start,
    cold_import_seconds,
    firing_body,
    fresh_environment,
)
from local_mode.lambda_runtime import api_gateway_event


def test_cold_imports_use_a_bytecode_cache_even_when_the_environment_forbids_writing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    case = ImportCase("errors", "import prompt_rollback.errors")
    assert cold_import_seconds(case, tmp_path) > 0
    cached = [path.name for path in tmp_path.rglob("*.pyc")]
    assert any(name.startswith("errors.") for name in cached), cached


def test_the_langfuse_client_row_imports_httpx_as_the_asset_does(tmp_path: Path) -> None:
    # httpx imports its command line (click, rich, pygments) when they are installed, as they are
    # in the development venv; the worker's asset has none of them.
    statement = "import httpx, sys\nassert sys.modules.get('click') is None, 'httpx CLI loaded'"
    case = ImportCase("httpx", statement, AS_IN_THE_ASSET)
    assert cold_import_seconds(case, tmp_path) > 0


def test_a_cold_start_times_the_import_and_the_first_answer_of_the_real_handler(tmp_path: Path) -> None:
    headers = {"Content-Type": "application/json", "Authorization": "Bearer right"}
    event = api_gateway_event("POST", "/alerts", headers, json.dumps(firing_body()).encode())
    spec = {"module": WEBHOOK, "function": "webhook", "event": event, "absent_modules": []}
    spec |= {"prefix": "bench-test", "webhook_token": "right"}
    environment = {**fresh_environment(tmp_path), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    imported, answered = _cold_start(spec, {"statusCode": 202}, environment)
    assert imported > 0 and answered > 0
    # The answer is checked: a refused request is not a cold start of the path measured.
    with pytest.raises(RuntimeError, match="401"):
        _cold_start({**spec, "webhook_token": "wrong"}, {"statusCode": 202}, environment)
