"""Local mode in Slack app mode: the printed message shows its buttons and a ready `curl` line
per button; running that line (bash, openssl, curl: as a developer would) clicks it with a valid
signature on the same port as /alerts, and the label moves back."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
import requests

from local_mode.service import DEMO_TOKEN, LocalService
from tests.integration.conftest import LocalMode, StartLocalMode
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
PROMPT = "support-answer"
CLICK_POLL_SECONDS = 0.02  # fine enough for the click-to-label-move figure


@pytest.fixture
def app_local_mode(local_mode_factory: StartLocalMode) -> LocalMode:
    return local_mode_factory(environment={"SLACK_BOT_TOKEN": "xoxb-local-demo"})


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


def test_the_printed_undo_line_clicks_undo_and_the_label_moves_back(app_local_mode: LocalMode):
    service, local = app_local_mode.service, app_local_mode
    assert service.langfuse is not None and service.slack_api is not None
    store = service.langfuse.store
    _fire(service)
    wait_for("the rollback to v6", lambda: store.production_version(PROMPT) == 6, watched=local)
    wait_for("the message with its Undo button", lambda: "[ Undo ]" in local.console(), watched=local)
    printed = local.console()
    assert "Prompt rolled back" in printed
    [undo_line] = [line.strip() for line in printed.splitlines() if line.strip().startswith("body=")]

    clicked = time.monotonic()
    assert _run(undo_line).strip() == "200"
    wait_for(
        "the undo back to v7",
        lambda: store.production_version(PROMPT) == 7,
        interval=CLICK_POLL_SECONDS,
        watched=local,
    )
    seconds = time.monotonic() - clicked
    print(f"local mode: click to label move {seconds:.2f} s")  # the figure for the report
    wait_for(
        "the message to say the rollback was undone",
        lambda: "Rollback undone" in local.console(),
        watched=local,
    )
    assert len(service.slack_api.top_level()) == 1  # the same message, updated

    forged = re.sub(r"-hmac \S+", "-hmac wrong-secret", undo_line)
    assert _run(forged).strip() == "401"
