"""The README's promise: start local mode, fire the demo alert, see the label move, the Slack
message and the audit row. Runs the real local mode (moto server, embedded Langfuse-compatible
store, console Slack) in this process, over real HTTP on loopback."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prompt_rollback import cli

from local_mode.service import DEMO_TOKEN, LocalService, LocalSettings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def local_mode() -> Iterator[tuple[LocalService, io.StringIO]]:
    saved = dict(os.environ)
    for name in (
        "AWS_ENDPOINT_URL",
        "LANGFUSE_HOST",
        "LANGFUSE_PUBLIC_KEY",
        "LANGFUSE_SECRET_KEY",
        "SLACK_WEBHOOK_URL",
        "ROLLBACK_POLICY",
        "AWS_PROFILE",
    ):
        os.environ.pop(name, None)
    out = io.StringIO()
    service = LocalService(LocalSettings(port=0, aws_port=0, poll_wait_seconds=1), out=out).start()
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
        time.sleep(0.1)
    return False


def test_demo_alert_moves_the_label_prints_slack_and_writes_the_audit_row(local_mode, capsys):
    service, out = local_mode
    assert service.langfuse is not None
    assert service.langfuse.store.production_version("support-answer") == 7
    demo = (REPO / "examples" / "alert-firing.json").read_bytes()
    response = requests.post(
        f"{service.url}/alerts",
        data=demo,
        headers={"Authorization": f"Bearer {DEMO_TOKEN}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 202
    assert response.json()["accepted"][0]["prompt_name"] == "support-answer"

    assert wait_for(lambda: "[worker] rolled_back" in out.getvalue()), out.getvalue()
    assert service.langfuse.store.production_version("support-answer") == 6
    printed = capsys.readouterr().out
    assert "Prompt rolled back" in printed and "v7 → v6" in printed  # the Slack message, on the console

    assert cli.main(["audit", "--prompt", "support-answer", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["outcome"], row["from_version"], row["to_version"]) == ("rolled_back", 7, 6)
    assert cli.main(["verify", "--prompt", "support-answer"]) == 0
    assert "chain intact" in capsys.readouterr().out


def test_local_mode_refuses_a_wrong_token_over_http(local_mode):
    service, _ = local_mode
    response = requests.post(
        f"{service.url}/alerts",
        data=b"{}",
        timeout=10,
        headers={"Authorization": "Bearer nope", "Content-Type": "application/json"},
    )
    assert response.status_code == 401
    assert requests.get(f"{service.url}/healthz", timeout=5).json() == {"status": "ok"}


def test_forced_rollback_from_the_cli_in_process(local_mode, capsys):
    service, _ = local_mode
    code = cli.main(
        [
            "rollback",
            "--prompt",
            "support-answer",
            "--to",
            "5",
            "--reason",
            "drill",
            "--actor",
            "oncall@example.com",
            "--in-process",
        ]
    )
    assert code == 0
    assert service.langfuse is not None
    assert service.langfuse.store.production_version("support-answer") == 5
    capsys.readouterr()
    assert cli.main(["audit", "--prompt", "support-answer", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["actor"], row["mode"], row["request_reason"]) == ("oncall@example.com", "manual", "drill")


def test_moving_the_label_by_hand_shows_up_in_the_ledger_through_signed_webhooks(local_mode):
    from prompt_rollback import wiring
    from prompt_rollback.adapters.langfuse_registry import LangfuseRegistry
    from prompt_rollback.adapters.registry import PromptRef
    from prompt_rollback.domain.audit import verify_chain

    service, out = local_mode
    assert service.langfuse is not None and service.webhooks is not None
    by_hand = LangfuseRegistry(service.langfuse.url, service.langfuse.public_key, service.langfuse.secret_key)
    by_hand.move_production(PromptRef("support-answer"), 5)
    assert wait_for(lambda: out.getvalue().count("[langfuse] change recorded") == 1), out.getvalue()
    by_hand.move_production(PromptRef("support-answer"), 3)
    assert wait_for(lambda: out.getvalue().count("[langfuse] change recorded") == 2), out.getvalue()
    service.webhooks.wait_idle()
    # Two events per move (gainer and loser), each delivered once with a 2xx.
    assert [status for _, status in service.webhooks.delivered] == [200] * 4
    records = list(wiring.audit_ledger().chain("langfuse#support-answer"))
    changes = [(r["from_version"], r["to_version"], r["actor"]) for r in records if r["kind"] == "change"]
    assert changes == [(None, 5, "langfuse api key"), (5, 3, "langfuse api key")]
    assert verify_chain(records) == []


def test_local_mode_refuses_an_unsigned_langfuse_event(local_mode):
    service, _ = local_mode
    response = requests.post(
        f"{service.url}/langfuse/events", data=b"{}", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 401
