"""The project installs as a distribution with its commands (`pip install .`; `make` installs it
editable into .venv): `prompt-rollback` (rollback, audit, verify), `prompt-gate` and
`prompt-rollback-exporter`."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = {
    "prompt-rollback": "prompt_rollback.cli:main",
    "prompt-gate": "regression_gate.cli:main",
    "prompt-rollback-exporter": "prompt_rollback_exporter.__main__:main",
}


def test_the_distribution_declares_both_commands() -> None:
    scripts = {ep.name: ep for ep in importlib.metadata.entry_points(group="console_scripts")}
    for name, target in COMMANDS.items():
        assert name in scripts, f"{name} not installed: run `make` (pip install -e .)"
        assert scripts[name].value == target
        assert callable(scripts[name].load())
        assert scripts[name].dist is not None and scripts[name].dist.name == "prompt-rollback"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("prompt-rollback", ["rollback", "audit", "verify"]),
        ("prompt-gate", ["--baseline", "--candidate", "--langfuse-dataset"]),
        ("prompt-rollback-exporter", ["LANGFUSE_HOST", "PROMPT_ROLLBACK_EXPORTER_"]),
    ],
)
def test_each_command_runs_without_pythonpath(command: str, expected: list[str]) -> None:
    script = Path(sys.executable).parent / command
    completed = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, check=False
    )
    assert completed.returncode == 0, completed.stderr
    for word in expected:
        assert word in completed.stdout
