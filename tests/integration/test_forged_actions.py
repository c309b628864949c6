"""A person's action is acted on only when something vouches for it: a click queued by the Slack
actions function (its SQS SenderId), or a CLI action by an approver. A click or a forced request
put straight on the queue by any other sender moves nothing, and the refusal is audited."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from prompt_rollback import cli
from prompt_rollback.domain.interactions import Click, SlackAction, action_id
from prompt_rollback.domain.requests import RollbackRequest, message_group_id

from tests.integration.slack_app_stack import APPROVER, CHANNEL, AppStack, reset_app_wiring

PROMPT = "support-answer"
# The deployed Slack actions function's role id, as CDK passes it (role.role_id). moto reports one
# fixed SenderId for every caller, so a test cannot send as two principals; instead the worker is
# told the Slack actions role is another principal than this test, which is then the forger.
SLACK_ACTIONS_ROLE_ID = "AROAEXAMPLESLACKACTNS"


def _send_straight_to_the_queue(app: AppStack, body: str, dedup: str) -> None:
    boto3.client("sqs").send_message(
        QueueUrl=app.stack.resources.queue_url,
        MessageBody=body,
        MessageGroupId=message_group_id("langfuse", PROMPT),
        MessageDeduplicationId=dedup,
    )


def _forged_undo(rollback_id: str) -> SlackAction:
    return SlackAction(
        action_id=action_id("T0TEAM", APPROVER, "1700000000.1", "undo", rollback_id),
        click=Click.UNDO,
        rollback_id=rollback_id,
        provider="langfuse",
        prompt_name=PROMPT,
        user_id=APPROVER,  # an approver's id: the forger claims to be them
        user_name="u0alice",
        channel_id=CHANNEL,
        clicked_at=datetime.now(UTC),
    )


def test_a_click_sent_straight_to_the_queue_moves_nothing_and_is_audited(app_stack, firing_body):
    rollback_id = app_stack.rolled_back(firing_body)
    app_stack.stack.monkeypatch.setenv("SLACK_ACTIONS_ROLE_ID", SLACK_ACTIONS_ROLE_ID)
    reset_app_wiring()
    moves = app_stack.stack.label_moves()

    _send_straight_to_the_queue(app_stack, _forged_undo(rollback_id).model_dump_json(), "forged-1")
    app_stack.stack.drain()

    assert app_stack.stack.production(PROMPT) == 6
    assert app_stack.stack.label_moves() == moves
    refusal = app_stack.stack.audit(PROMPT)[-1]
    assert (refusal["kind"], refusal["outcome"], refusal["rollback_id"]) == (
        "followup",
        "refused",
        rollback_id,
    )
    assert "not sent by the Slack actions function" in refusal["reason"]
    sender = app_stack.stack.resources.sender_id
    assert refusal["provenance"]["authority"] == "unverified"
    assert refusal["provenance"]["caller"] == sender and sender
    assert refusal["provenance"]["lambda_request_id"]
    assert app_stack.slack_api.ephemerals == []  # the named clicker is not messaged by a forger
    assert app_stack.stack.queue_depth(app_stack.stack.resources.dlq_url) == 0


def test_a_forced_request_sent_straight_to_the_queue_moves_nothing(app_stack, firing_body):
    app_stack.rolled_back(firing_body)
    moves = app_stack.stack.label_moves()
    forced = RollbackRequest(
        request_id="forged-forced-1",
        prompt_name=PROMPT,
        rollback_to=3,
        actor="slack:U0ALICE",
        reason="looks like a person",
        forced=True,
        received_at=datetime.now(UTC),
    )
    _send_straight_to_the_queue(app_stack, forced.model_dump_json(), "forged-2")
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 6
    assert app_stack.stack.label_moves() == moves
    assert all(r["request_id"] != "forged-forced-1" for r in app_stack.stack.audit(PROMPT))


def test_a_click_through_the_slack_actions_function_records_who_vouched_for_it(app_stack, firing_body):
    rollback_id = app_stack.rolled_back(firing_body)
    assert app_stack.click(rollback_id, "undo")[0] == 200
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 7
    undo = app_stack.stack.decisions(PROMPT)[-1]
    assert undo["actor"] == "slack:U0ALICE (u0alice)"
    assert undo["provenance"]["authority"] == "slack_signature"
    assert undo["provenance"]["caller"] == app_stack.stack.resources.sender_id
    assert undo["provenance"]["lambda_request_id"]


def test_the_cli_acts_only_for_an_approver(app_stack, firing_body, capsys):
    rollback_id = app_stack.rolled_back(firing_body)
    undo = ["undo", "--prompt", PROMPT, "--rollback-id", rollback_id, "--in-process"]

    assert cli.main([*undo, "--actor", "jane"]) == 1
    assert "jane is not an approver of support-answer" in capsys.readouterr().out
    assert app_stack.stack.production(PROMPT) == 6
    refusal = app_stack.stack.audit(PROMPT)[-1]
    assert (refusal["outcome"], refusal["actor"]) == ("refused", "cli:jane")
    assert refusal["provenance"]["authority"] == "iam_invoke_and_approvers"

    assert cli.main([*undo, "--actor", APPROVER]) == 0
    assert app_stack.stack.production(PROMPT) == 7
    moved = app_stack.stack.decisions(PROMPT)[-1]
    assert moved["actor"] == f"cli:{APPROVER}"
    assert moved["provenance"] == {
        "authority": "iam_invoke_and_approvers",
        "lambda_request_id": "cli",  # the in-process CLI's context; a real invoke's request id in Lambda
        "caller": "",
    }


def test_a_forced_rollback_records_that_iam_let_the_caller_in(stack, capsys):
    forced = ["rollback", "--prompt", PROMPT, "--to", "5", "--reason", "drill", "--actor", "jane"]
    assert cli.main([*forced, "--in-process"]) == 0
    decision = stack.decisions(PROMPT)[-1]
    assert (decision["outcome"], decision["actor"]) == ("rolled_back", "jane")
    assert decision["provenance"] == {"authority": "iam_invoke", "lambda_request_id": "cli", "caller": ""}
