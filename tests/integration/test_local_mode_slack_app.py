"""Local mode in Slack app mode: the printed message shows its buttons and a ready `curl` line
per button; running that line (bash, openssl, curl: as a developer would) clicks it with a valid
signature on the same port as /alerts, and the label moves back."""

from __future__ import annotations

import io
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local_mode.service import DEMO_TOKEN, LocalService, LocalSettings

REPO = Path(__file__).resolve().parents[2]
PROMPT = "support-answer"


@pytest.fixture
def app_local_mode() -> Iterator[tuple[LocalService, io.StringIO]]:
    saved = dict(os.environ)
    for name in (
        "AWS_ENDPOINT_URL",
        "LANGFUSE_HOST",
        "LANGFUSE_PUBLIC_KEY",
        "LANGFUSE_SECRET_KEY",
        "SLACK_WEBHOOK_URL",
        "ROLLBACK_POLICY",
        "AWS_PROFILE",
        "SLACK_API_BASE_URL",
        "SLACK_SIGNING_SECRET",
        "SLACK_CHANNEL",
    ):
        os.environ.pop(name, None)
    out = io.StringIO()
    settings = LocalSettings(
        port=0, aws_port=0, poll_wait_seconds=1, environment={"SLACK_BOT_TOKEN": "xoxb-local-demo"}
    )
    service = LocalService(settings, out=out).start()
    try:
        yield service, out
    finally:
        service.stop()
        os.environ.clear()
        os.environ.update(saved)


def wait_for(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _fire(service: LocalService) -> None:
    response = requests.post(
        f"{service.url}/alerts",
        data=(REPO / "examples" / "alert-firing.json").read_bytes(),
        headers={"Authorization": f"Bearer {DEMO_TOKEN}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 202


def _run(line: str) -> str:
    return subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=30, check=True).stdout


def test_the_printed_undo_line_clicks_undo_and_the_label_moves_back(app_local_mode):
    service, out = app_local_mode
    assert service.langfuse is not None and service.slack_api is not None
    _fire(service)
    assert wait_for(lambda: service.langfuse.store.production_version(PROMPT) == 6)
    assert wait_for(lambda: "[ Undo ]" in out.getvalue()), out.getvalue()
    printed = out.getvalue()
    assert "Prompt rolled back" in printed
    [undo_line] = [line.strip() for line in printed.splitlines() if line.strip().startswith("body=")]

    clicked = time.monotonic()
    assert _run(undo_line).strip() == "200"
    assert wait_for(lambda: service.langfuse.store.production_version(PROMPT) == 7), out.getvalue()
    seconds = time.monotonic() - clicked
    print(f"local mode: click to label move {seconds:.2f} s")  # the figure for the report
    assert wait_for(lambda: "Rollback undone" in out.getvalue())
    assert len(service.slack_api.top_level()) == 1  # the same message, updated

    forged = re.sub(r"-hmac \S+", "-hmac wrong-secret", undo_line)
    assert _run(forged).strip() == "401"
