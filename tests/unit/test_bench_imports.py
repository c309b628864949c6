"""The bench's cold imports run with bytecode, as Lambda does (the assets ship .pyc): an environment
that forbids writing bytecode must not turn them into source compiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.__main__ import ImportCase, cold_import_seconds


def test_cold_imports_use_a_bytecode_cache_even_when_the_environment_forbids_writing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    case = ImportCase("errors", "import prompt_rollback.errors")
    assert cold_import_seconds(case, tmp_path) > 0
    cached = [path.name for path in tmp_path.rglob("*.pyc")]
    assert any(name.startswith("errors.") for name in cached), cached
