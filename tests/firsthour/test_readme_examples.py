"""The README's local examples, as printed: local mode started as `make run` starts it, the
banner's `export` line pasted, then every line of each block marked `<!-- readme-example -->`
run by bash in order (only the ports differ: the printed 8080 and 4566 may be taken here)."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"<!-- readme-example(?:: exit (\d+))? -->\n```bash\n(.*?)```", re.S)


@dataclass
class Example:
    command: str
    exit_code: int


def readme_examples(text: str) -> list[Example]:
    examples = []
    for expected, block in MARKER.findall(text):
        for command in re.sub(r"\\\n\s*", "", block).splitlines():
            if command.strip():
                examples.append(Example(command.strip(), int(expected or 0)))
    return examples


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


@dataclass
class Running:
    process: subprocess.Popen[str]
    log: Path
    port: int

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def local_mode_process(tmp_path: Path) -> Iterator[Running]:
    port, aws_port = _free_port(), _free_port()
    log = tmp_path / "local-mode.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LANGFUSE_", "SLACK_"))}
    env["PYTHONUNBUFFERED"] = "1"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "local_mode", "--port", str(port), "--aws-port", str(aws_port)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    running = Running(process, log, port)

    def ready() -> bool:
        assert process.poll() is None, running.output()
        return "Ctrl-C stops." in running.output()

    try:
        wait_for("local mode's banner", ready, timeout=90)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=30)


def _exported(banner: str) -> dict[str, str]:
    """The settings of the banner's `export` line, as a shell that pasted it would hold."""
    block = banner[banner.index("  export ") :]
    line = re.sub(r"\\\n\s*", " ", block).splitlines()[0]
    return dict(word.split("=", 1) for word in shlex.split(line)[1:])


def test_the_readme_examples_run_as_printed(local_mode_process: Running):
    examples = readme_examples((REPO / "README.md").read_text())
    assert len(examples) >= 8, "the README's marked examples"
    env = {**os.environ, **_exported(local_mode_process.output())}
    answers = []
    for example in examples:
        command = example.command.replace("127.0.0.1:8080", f"127.0.0.1:{local_mode_process.port}")
        finished = subprocess.run(
            ["bash", "-c", command],
            cwd=REPO,
            env=env,
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert finished.returncode == example.exit_code, (command, finished.stdout, finished.stderr)
        answers.append(finished.stdout)
        if "/alerts" in command:  # the worker decides before the next line, as a person would wait
            wait_for(
                "the worker's decision",
                lambda: "[worker] rolled_back: support-answer v7 -> v6" in local_mode_process.output(),
                timeout=60,
            )
        if "PATCH" in command:
            wait_for(
                "the recorded change",
                lambda: "[langfuse] change recorded" in local_mode_process.output(),
                timeout=60,
            )
    shown = local_mode_process.output()
    assert "[webhook] 202 queued rollback" in shown
    assert "[webhook] 202 support-answer v7 again" in shown  # the repeat moves nothing
    assert shown.count("[worker] rolled_back: support-answer v7 -> v6") == 1
    assert "production v6 -> v5 by langfuse api key" in shown
    joined = "\n".join(answers)
    assert "chain intact" in joined
    assert "rolled back: support-answer v5 -> v4" in joined
    assert "Verdict: REGRESSION" in joined


def test_the_example_extraction_joins_continued_lines():
    text = "<!-- readme-example: exit 1 -->\n```bash\nfoo a \\\n    b\nbar\n```\n"
    assert readme_examples(text) == [Example("foo a b", 1), Example("bar", 1)]
