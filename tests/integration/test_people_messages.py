"""What the incident message and the audit say after people act: where they acted (Slack or the
CLI), what the undo did, and which move the "moves forward" note belongs to."""

from __future__ import annotations

import copy
import json
from typing import Any

from prompt_rollback import cli

from tests.integration.slack_app_stack import APPROVER, AppStack, set_policy

PROMPT = "support-answer"


def _text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def _renderings(app: AppStack) -> list[str]:
    """Every version the incident message has shown, oldest first."""
    message = app.incident()
    return [_text(blocks) for blocks in message.history] + [_text(message.blocks)]


def _rolled_back(app: AppStack, firing_body) -> str:
    assert app.stack.post(firing_body)[0] == 202
    app.stack.drain()
    return str(app.stack.decisions(PROMPT)[-1]["request_id"])


def test_an_undo_from_the_cli_says_the_cli_and_never_shows_a_rollback_forward(app_stack, firing_body):
    rollback_id = _rolled_back(app_stack, firing_body)
    set_policy(app_stack, approvers=[APPROVER], cooldown_minutes=0)  # the CLI acts for an approver only
    undo = ["undo", "--prompt", PROMPT, "--rollback-id", rollback_id, "--actor", APPROVER, "--in-process"]
    assert cli.main(undo) == 0
    decision = app_stack.stack.decisions(PROMPT)[-1]
    assert "from the CLI" in decision["request_reason"] and "Slack" not in decision["request_reason"]
    shown = _renderings(app_stack)
    after_undo = shown[1:]
    assert after_undo, "the incident message was updated"
    assert not any("Prompt rolled back" in s and "v6 → v7" in s for s in after_undo)
    assert "Rollback undone" in shown[-1] and f"cli:{APPROVER} (manual)" in shown[-1]


def test_the_moves_forward_note_is_on_the_undo_that_moved_forward(app_stack, firing_body):
    rollback_id = _rolled_back(app_stack, firing_body)
    app_stack.click(rollback_id, "undo")
    app_stack.stack.drain()
    assert "moves forward" in _text(app_stack.incident().blocks)  # v6 → v7: forward, as asked
    app_stack.click(f"undo-{rollback_id}", "undo")
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 6
    assert "moves forward" not in _text(app_stack.incident().blocks)  # v7 → v6: back


def test_an_approval_from_the_cli_says_the_cli(app_stack, firing_body):
    set_policy(
        app_stack, approvers=[APPROVER], cooldown_minutes=0, prompts={"support-*": {"mode": "approval"}}
    )
    body = copy.deepcopy(firing_body)
    app_stack.stack.post(body)
    app_stack.stack.drain()
    proposal = app_stack.stack.decisions(PROMPT)[-1]
    assert proposal["outcome"] == "proposed"
    approve = ["approve", "--prompt", PROMPT, "--rollback-id", proposal["request_id"], "--actor", APPROVER]
    assert cli.main([*approve, "--in-process"]) == 0
    reason = app_stack.stack.decisions(PROMPT)[-1]["request_reason"]
    assert f"approved from the CLI by cli:{APPROVER}" in reason and "in Slack" not in reason


def test_the_cli_in_process_says_the_outcome_in_plain_words_first(stack, capsys):
    capsys.readouterr()
    code = cli.main(
        [
            *("rollback", "--prompt", PROMPT, "--to", "5", "--reason", "drill"),
            *("--actor", "jane@example.com", "--in-process"),
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    first = captured.out.splitlines()[0]
    assert first.startswith(f"rolled back: {PROMPT} v7 -> v5: ")
    assert '"_aws"' not in captured.out  # no EMF metric lines
    assert '"level"' not in captured.out  # no JSON log lines
    assert "No application metrics" not in captured.err
