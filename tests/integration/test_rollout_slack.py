"""A rollout's one Slack message through the real slack_sdk against the loopback Web API, and its
buttons clicked as Slack sends them (signed POST /slack/actions, queued on the prompt's FIFO group)."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest
from prompt_rollback.domain.interactions import action_id
from prompt_rollback.domain.requests import message_group_id
from prompt_rollback.domain.rollout_messages import RolloutClick

from tests.integration.slack_app_stack import APPROVER, CHANNEL, STRANGER, AppStack, reset_app_wiring
from tests.integration.test_rollout_controller import GOOD, PROMPT, Rollouts, small_plan


def slack_plan() -> dict:
    plan = small_plan()
    plan["steps"][0]["approval"] = {"approvers": [APPROVER], "expires_after": "PT1H"}
    plan["steps"][2]["approval"] = {"approvers": ["U0BOB"]}
    return plan


@pytest.fixture
def rollouts(app_stack: AppStack, monkeypatch) -> Rollouts:
    return Rollouts(app_stack.stack, monkeypatch)


def at_checkpoint(rollouts: Rollouts, app_stack: AppStack) -> str:
    rollouts.command("start", version=rollouts.candidate, actor="jane", plan=slack_plan())
    rollouts.traffic(15, 5, GOOD)
    rollouts.tick()
    assert rollouts.status()["state"] == "waiting_approval"
    return str(rollouts.status()["rollout_id"])


def message(app_stack: AppStack):
    [only] = app_stack.slack_api.top_level(CHANNEL)  # one message per rollout, updated in place
    return only


def click(app_stack: AppStack, rollout_id: str, action: str, user: str = APPROVER) -> None:
    status, _, _ = app_stack.click(rollout_id, action, user)
    assert status == 200
    app_stack.stack.drain()


def test_the_message_is_posted_once_and_updated_at_every_step(rollouts, app_stack):
    rollouts.command("start", version=rollouts.candidate, actor="jane", plan=slack_plan())
    posted = message(app_stack)
    assert "progressing, 5 %" in posted.text and posted.buttons() == []
    [started] = rollouts.stack.audit(PROMPT)
    assert started["slack"] == {"channel": CHANNEL, "ts": posted.ts}  # kept on the rollout's records

    rollouts.traffic(15, 5, GOOD)
    rollouts.tick()
    updated = message(app_stack)
    assert updated.ts == posted.ts and updated.updates >= 1
    shown = json.dumps(updated.blocks, ensure_ascii=False)
    assert "errors: canary" in shown and "vs stable" in shown  # both arms' numbers
    assert f"approval by one of <@{APPROVER}> to leave 5 %" in shown
    assert [b["action_id"] for b in updated.buttons()] == [
        "rollout_approve", "rollout_abort", "rollout_promote_full",
    ]  # fmt: skip


def test_an_approver_clicks_approve_and_the_rollout_steps_up(rollouts, app_stack):
    rollout_id = at_checkpoint(rollouts, app_stack)
    click(app_stack, rollout_id, "rollout_approve")
    status = rollouts.status()
    assert status["share"] == 25 and status["state"] == "progressing"
    assert "canary-25" in rollouts.labels(rollouts.candidate)
    approved = [r for r in rollouts.stack.audit(PROMPT) if r["kind"] == "approved"]
    assert approved[0]["actor"] == f"slack:{APPROVER} ({APPROVER.lower()})"
    assert "25 %" in message(app_stack).text and message(app_stack).buttons() == []


def test_anyone_else_is_not_allowed_and_the_refusal_is_on_the_record(rollouts, app_stack):
    rollout_id = at_checkpoint(rollouts, app_stack)
    for action in ("rollout_approve", "rollout_promote_full", "rollout_abort"):
        click(app_stack, rollout_id, action, user=STRANGER)
    assert rollouts.status()["state"] == "waiting_approval" and rollouts.status()["share"] == 5
    refusals = [r for r in rollouts.stack.audit(PROMPT) if r["kind"] == "rejected"]
    assert len(refusals) == 3 and all(r["detail"]["refused"] for r in refusals)
    assert all("not allowed" in r["reason"] and STRANGER in r["actor"] for r in refusals)
    told = [e for e in app_stack.slack_api.ephemerals if e.user == STRANGER]
    assert len(told) == 3 and all(e.text.startswith("not allowed") for e in told)


def test_a_step_may_name_a_slack_user_group_whose_members_approve(rollouts, app_stack):
    app_stack.slack_api.user_groups["S0RELEASE"] = ["U0BOB", APPROVER]
    plan = slack_plan()
    plan["steps"][0]["approval"] = {"approvers": ["S0RELEASE"]}
    rollouts.command("start", version=rollouts.candidate, actor="jane", plan=plan)
    rollouts.traffic(15, 5, GOOD)
    rollouts.tick()
    rollout_id = str(rollouts.status()["rollout_id"])

    click(app_stack, rollout_id, "rollout_approve", user=STRANGER)
    assert rollouts.status()["share"] == 5  # not in the group
    click(app_stack, rollout_id, "rollout_approve")
    assert rollouts.status()["share"] == 25
    approved = [r for r in rollouts.stack.audit(PROMPT) if r["kind"] == "approved"]
    assert approved[0]["actor"] == f"slack:{APPROVER} ({APPROVER.lower()})"


def test_abort_moves_canary_back_onto_stable(rollouts, app_stack):
    rollout_id = at_checkpoint(rollouts, app_stack)
    click(app_stack, rollout_id, "rollout_abort")
    assert rollouts.status()["state"] == "aborted"
    assert "canary" in rollouts.labels(7) and rollouts.stack.production(PROMPT) == 7
    assert "aborted" in message(app_stack).text


def test_promote_full_is_an_approval_and_a_promotion(rollouts, app_stack):
    rollout_id = at_checkpoint(rollouts, app_stack)
    click(app_stack, rollout_id, "rollout_promote_full")
    assert rollouts.status()["state"] == "baking"
    assert rollouts.stack.production(PROMPT) == rollouts.candidate
    assert rollouts.kinds()[-2:] == ["approved", "promoted"]


def test_an_expired_approval_pauses_and_slack_shows_it(rollouts, app_stack):
    at_checkpoint(rollouts, app_stack)
    rollouts.now += timedelta(hours=2)
    rollouts.tick()
    assert rollouts.status()["state"] == "paused"
    shown = json.dumps(message(app_stack).blocks, ensure_ascii=False)
    assert "approval expired" in shown and message(app_stack).buttons() == []


def test_a_click_sent_straight_to_the_queue_is_not_acted_on(rollouts, app_stack):
    rollout_id = at_checkpoint(rollouts, app_stack)
    app_stack.stack.monkeypatch.setenv("SLACK_ACTIONS_ROLE_ID", "AROAEXAMPLESLACKACTNS")
    reset_app_wiring()
    forged = RolloutClick(
        prompt_name=PROMPT, action_id=action_id("T0", APPROVER, "1.1", "rollout_approve", rollout_id),
        click="rollout_approve", rollout_id=rollout_id, user_id=APPROVER, channel_id=CHANNEL,
        clicked_at=rollouts.now,
    )  # fmt: skip
    boto3.client("sqs").send_message(
        QueueUrl=app_stack.stack.resources.queue_url,
        MessageBody=forged.model_dump_json(),
        MessageGroupId=message_group_id("langfuse", PROMPT),
        MessageDeduplicationId="forged-rollout-1",
    )
    app_stack.stack.drain()
    assert rollouts.status()["share"] == 5 and rollouts.status()["state"] == "waiting_approval"
    last = rollouts.stack.audit(PROMPT)[-1]
    assert last["kind"] == "rejected" and last["detail"]["unverified"] is True
    assert "not sent by the Slack actions function" in last["reason"]


def test_a_forged_signature_is_refused_before_anything_is_queued(rollouts, app_stack):
    rollout_id = at_checkpoint(rollouts, app_stack)
    status, _, _ = app_stack.click(rollout_id, "rollout_approve", secret="not-the-signing-secret")
    assert status == 401
    assert app_stack.stack.queue_depth(app_stack.stack.resources.queue_url) == 0
    assert rollouts.status()["share"] == 5
