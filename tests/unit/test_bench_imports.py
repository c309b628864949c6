"""The bench's cold imports run with bytecode, as Lambda does (the assets ship .pyc): an environment
that forbids writing bytecode must not turn them into source compiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.__main__ import AS_IN_THE_ASSET, ImportCase, cold_import_seconds


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
