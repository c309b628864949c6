"""The README's promise: start local mode, fire the demo alert, see the label move, the Slack
message and the audit row. Runs the real local mode (moto server, embedded Langfuse-compatible
store, console Slack) in this process, over real HTTP on loopback."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prompt_rollback import cli

from local_mode.lambda_runtime import request_body
from local_mode.service import DEMO_TOKEN
from tests.integration.conftest import LocalMode
from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]


def test_demo_alert_moves_the_label_prints_slack_and_writes_the_audit_row(local_mode: LocalMode, capsys):
    service = local_mode.service
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

    wait_for("the rollback", lambda: "[worker] rolled_back" in local_mode.console(), watched=local_mode)
    assert service.langfuse.store.production_version("support-answer") == 6
    printed = capsys.readouterr().out
    assert "Prompt rolled back" in printed and "v7 → v6" in printed  # the Slack message, on the console

    assert cli.main(["audit", "--prompt", "support-answer", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["outcome"], row["from_version"], row["to_version"]) == ("rolled_back", 7, 6)
    assert cli.main(["verify", "--prompt", "support-answer"]) == 0
    assert "chain intact" in capsys.readouterr().out


def test_local_mode_refuses_a_wrong_token_over_http(local_mode: LocalMode):
    service = local_mode.service
    response = requests.post(
        f"{service.url}/alerts",
        data=b"{}",
        timeout=10,
        headers={"Authorization": "Bearer nope", "Content-Type": "application/json"},
    )
    assert response.status_code == 401
    assert requests.get(f"{service.url}/healthz", timeout=5).json() == {"status": "ok"}


def test_forced_rollback_from_the_cli_in_process(local_mode: LocalMode, capsys):
    service = local_mode.service
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


def test_moving_the_label_by_hand_shows_up_in_the_ledger_through_signed_webhooks(local_mode: LocalMode):
    from prompt_rollback import wiring
    from prompt_rollback.adapters.langfuse_registry import LangfuseRegistry
    from prompt_rollback.domain.audit import verify_chain
    from prompt_rollback.domain.production_order import past_moves
    from prompt_rollback.ports import PromptRef

    service = local_mode.service
    assert service.langfuse is not None and service.webhooks is not None
    by_hand = LangfuseRegistry(service.langfuse.url, service.langfuse.public_key, service.langfuse.secret_key)
    by_hand.move_production(PromptRef("support-answer"), 5)
    # Nothing was on record: the losing version's event is recorded too, naming where v5 came from.
    wait_for(
        "the first move's two records",
        lambda: local_mode.console().count("[langfuse] change recorded") == 2,
        watched=local_mode,
    )
    by_hand.move_production(PromptRef("support-answer"), 3)
    wait_for(
        "the second move's record",
        lambda: local_mode.console().count("[langfuse] change recorded") == 3,
        watched=local_mode,
    )
    service.webhooks.wait_idle()
    # Two events per move (gainer and loser), each delivered once with a 2xx.
    assert [status for _, status in service.webhooks.delivered] == [200] * 4
    records = list(wiring.audit_ledger().chain("langfuse#support-answer"))
    assert [r["change"] for r in records if r["kind"] == "change"].count("left") == 1
    assert [(m.from_version, m.to_version) for m in past_moves(records[::-1])] == [(5, 3), (7, 5)]
    assert {r["actor"] for r in records if r["kind"] == "change"} == {"langfuse api key"}
    assert verify_chain(records) == []


def test_local_mode_refuses_an_unsigned_langfuse_event(local_mode: LocalMode):
    response = requests.post(
        f"{local_mode.url}/langfuse/events",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 401


def post_chunked(url: str, body: bytes, chunk: int = 4096) -> requests.Response:
    """requests sends a generator body with Transfer-Encoding: chunked and no Content-Length."""

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), chunk):
            yield body[start : start + chunk]

    return requests.post(
        f"{url}/alerts",
        data=chunks(),
        headers={"Authorization": f"Bearer {DEMO_TOKEN}", "Content-Type": "application/json"},
        timeout=30,
    )


def test_a_chunked_body_is_read_like_any_other(local_mode: LocalMode):
    demo = (REPO / "examples" / "alert-firing.json").read_bytes()
    response = post_chunked(local_mode.url, demo, chunk=100)
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.request.headers
    assert response.status_code == 202, response.text
    assert response.json()["accepted"][0]["prompt_name"] == "support-answer"
    wait_for("the rollback", lambda: "[worker] rolled_back" in local_mode.console(), watched=local_mode)


def test_a_chunked_body_over_the_limit_is_413(local_mode: LocalMode):
    response = post_chunked(local_mode.url, b'{"pad": "' + b"x" * 1_100_000 + b'"}', chunk=65536)
    assert response.status_code == 413


def test_a_content_length_that_is_not_a_number_is_400_not_a_crash(local_mode: LocalMode):
    host, port = local_mode.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {DEMO_TOKEN}\r\n".encode()
            + b"Content-Length: 12abc\r\nConnection: close\r\n\r\n{}"
        )
        status_line = connection.makefile("rb").readline()
    assert status_line.split()[1] == b"400", status_line


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"wsgi.input_terminated": True}, b"x" * 10),  # chunked, de-chunked by werkzeug's server
        ({"CONTENT_LENGTH": "10"}, b"x" * 10),
        ({"CONTENT_LENGTH": "9"}, b"x" * 9),
    ],
)
def test_request_body_reads_up_to_the_limit(environ, expected):
    assert request_body({**environ, "wsgi.input": io.BytesIO(b"x" * 10)}, limit=10) == expected


@pytest.mark.parametrize("environ", [{"wsgi.input_terminated": True}, {"CONTENT_LENGTH": "11"}])
def test_request_body_past_the_limit_is_refused_not_cut(environ):
    assert request_body({**environ, "wsgi.input": io.BytesIO(b"x" * 11)}, limit=10) is None
