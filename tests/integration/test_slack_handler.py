"""Buttons end to end: a signed click → POST /slack/actions → the FIFO queue → the worker →
Langfuse and the ledger, with the one incident message updated in place (real slack_sdk client,
loopback Slack Web API, moto, the Langfuse-compatible server)."""

from __future__ import annotations

import copy
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from prompt_rollback import cli
from prompt_rollback.slack import wiring as slack_wiring

from tests.integration.slack_app_stack import (
    APPROVER,
    CHANNEL,
    STRANGER,
    AppStack,
    set_policy,
)

PROMPT = "support-answer"


def test_a_rollback_is_one_message_with_undo_and_undo_moves_production_back(app_stack, firing_body):
    rollback_id = app_stack.rolled_back(firing_body)
    message = app_stack.incident()
    assert [(b["action_id"], b["value"]) for b in message.buttons()] == [("undo", rollback_id)]

    status, _, _ = app_stack.click(rollback_id, "undo")
    assert status == 200
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 7
    undo = app_stack.stack.decisions(PROMPT)[-1]
    assert (undo["outcome"], undo["mode"], undo["actor"]) == (
        "rolled_back",
        "manual",
        "slack:U0ALICE (u0alice)",
    )
    assert (undo["from_version"], undo["to_version"]) == (6, 7)
    assert len(app_stack.slack_api.top_level(CHANNEL)) == 1  # still one message, updated in place
    assert "Rollback undone" in app_stack.incident().text
    assert [m.text for m in app_stack.slack_api.thread(message.ts)][-1].startswith("Undone by <@U0ALICE>")


def test_undo_of_an_undo_rolls_back_again(app_stack, firing_body):
    rollback_id = app_stack.rolled_back(firing_body)
    app_stack.click(rollback_id, "undo")
    app_stack.stack.drain()
    [undo_button] = app_stack.incident().buttons()
    assert undo_button["value"] == f"undo-{rollback_id}"
    app_stack.click(undo_button["value"], "undo")
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 6
    assert app_stack.stack.label_moves() == 3
    assert len(app_stack.slack_api.top_level(CHANNEL)) == 1


def test_double_and_concurrent_clicks_move_production_once(app_stack, firing_body):
    rollback_id = app_stack.rolled_back(firing_body)
    moves_before = app_stack.stack.label_moves()
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(
            pool.map(lambda i: app_stack.click(rollback_id, "undo", action_ts=f"17000000{i}.1")[0], range(4))
        )
    assert statuses == [200] * 4
    app_stack.stack.drain()
    app_stack.click(rollback_id, "undo")  # and a late double click
    app_stack.stack.drain()
    assert app_stack.stack.label_moves() == moves_before + 1
    assert app_stack.stack.production(PROMPT) == 7
    undos = [d for d in app_stack.stack.decisions(PROMPT) if d["request_id"] == f"undo-{rollback_id}"]
    assert len(undos) == 1


def test_a_click_by_someone_not_allowed_is_refused_privately_and_audited(app_stack, firing_body):
    rollback_id = app_stack.rolled_back(firing_body)
    app_stack.click(rollback_id, "undo", user=STRANGER)
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 6
    [ephemeral] = app_stack.slack_api.ephemerals
    assert ephemeral.user == STRANGER and ephemeral.text.startswith("Not allowed")
    refusal = app_stack.stack.audit(PROMPT)[-1]
    assert (refusal["kind"], refusal["outcome"], refusal["rollback_id"]) == (
        "followup",
        "refused",
        rollback_id,
    )
    assert refusal["actor"].startswith("slack:U0MALLORY")


def test_a_member_of_the_approvers_user_group_may_click(app_stack, firing_body):
    rollback_id = app_stack.rolled_back(firing_body)
    app_stack.click(rollback_id, "undo", user="U0BOB")
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 7


def test_forged_unsigned_expired_and_replayed_clicks_get_401_and_change_nothing(app_stack, firing_body):
    rollback_id = app_stack.rolled_back(firing_body)
    assert app_stack.click(rollback_id, "undo", secret="not-the-signing-secret")[0] == 401
    assert app_stack.click(rollback_id, "undo", signature="")[0] == 401
    assert app_stack.click(rollback_id, "undo", timestamp=int(time.time()) - 6 * 60)[0] == 401
    assert app_stack.click(rollback_id, "undo", timestamp=int(time.time()) + 6 * 60)[0] == 401
    assert app_stack.click(rollback_id, "undo", timestamp=0, signature="v0=abc")[0] == 401
    status, headers, raw = app_stack.click(rollback_id, "undo", user=STRANGER)
    assert status == 200
    assert app_stack.send(headers, raw) == 401  # the same signed request again: a replay
    tampered = raw.replace(STRANGER, APPROVER)
    assert app_stack.send(headers, tampered) == 401
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 6
    assert [r["outcome"] for r in app_stack.stack.audit(PROMPT) if r["kind"] == "followup"] == ["refused"]


def test_signed_but_malformed_clicks_are_4xx_and_change_nothing(app_stack, firing_body):
    rollback_id = app_stack.rolled_back(firing_body)
    assert app_stack.click(rollback_id, "undo", body="payload=not-json")[0] == 400
    assert app_stack.click(rollback_id, "launch_missiles")[0] == 400
    assert app_stack.click("<!channel>", "undo")[0] == 400
    assert app_stack.click("rb-unknown", "undo")[0] == 200  # Slack's answer; nothing queued
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 6
    assert len(app_stack.stack.audit(PROMPT)) == 2


def _proposed(app: AppStack, firing_body, **policy) -> str:
    set_policy(app, approvers=[APPROVER], prompts={"support-*": {"mode": "approval", **policy}})
    assert app.stack.post(firing_body)[0] == 202
    app.stack.drain()
    [proposal] = app.stack.decisions(PROMPT)
    assert proposal["outcome"] == "proposed" and app.stack.production(PROMPT) == 7
    return str(proposal["request_id"])


def test_approval_mode_moves_nothing_until_an_approver_approves(app_stack, firing_body):
    proposal_id = _proposed(app_stack, firing_body)
    assert [b["action_id"] for b in app_stack.incident().buttons()] == ["approve", "reject"]
    app_stack.click(proposal_id, "approve", user=STRANGER)
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 7
    app_stack.click(proposal_id, "approve")
    app_stack.click(proposal_id, "approve")  # a double click
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 6
    assert app_stack.stack.label_moves() == 1
    approved = app_stack.stack.decisions(PROMPT)[-1]
    assert (approved["request_id"], approved["actor"]) == (
        f"approve-{proposal_id}",
        "slack:U0ALICE (u0alice)",
    )
    message = app_stack.incident()
    assert "Prompt rolled back" in message.text
    assert [(b["action_id"], b["value"]) for b in message.buttons()] == [("undo", f"approve-{proposal_id}")]


def test_a_rejected_proposal_cannot_be_approved_afterwards(app_stack, firing_body):
    proposal_id = _proposed(app_stack, firing_body)
    app_stack.click(proposal_id, "reject")
    app_stack.stack.drain()
    assert "rejected" in app_stack.incident().text and app_stack.incident().buttons() == []
    app_stack.click(proposal_id, "approve")
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 7
    assert app_stack.slack_api.ephemerals[-1].text == "Nothing changed: this proposal was already rejected."


def test_approve_after_expiry_changes_nothing_and_is_audited_as_expired(app_stack, firing_body):
    proposal_id = _proposed(app_stack, firing_body, approval_expiry_minutes=1)
    records = app_stack.stack.audit(PROMPT)
    an_hour_later = datetime.now(UTC) + timedelta(hours=1)
    app_stack.stack.monkeypatch.setattr(slack_wiring, "now", lambda: an_hour_later)
    app_stack.click(proposal_id, "approve")
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 7
    expired = app_stack.stack.audit(PROMPT)[-1]
    assert (expired["outcome"], expired["rollback_id"]) == ("expired", proposal_id)
    assert len(app_stack.stack.audit(PROMPT)) == len(records) + 1
    assert "expired" in app_stack.incident().text


def test_approving_a_stale_proposal_changes_nothing_and_says_why(app_stack, firing_body):
    proposal_id = _proposed(app_stack, firing_body)
    app_stack.stack.langfuse.store.set_labels(PROMPT, 5, ["production"])  # someone moved production meanwhile
    app_stack.click(proposal_id, "approve")
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 5
    assert "production moved since the proposal: it is v5" in app_stack.slack_api.ephemerals[-1].text
    assert json.dumps(app_stack.stack.audit(PROMPT)[-1]).count("stale") == 1


def test_no_cascade_the_version_we_rolled_back_to_alerting_too_needs_a_person(app_stack, firing_body):
    set_policy(app_stack, approvers=[APPROVER], cooldown_minutes=0)
    app_stack.rolled_back(firing_body)
    second = copy.deepcopy(firing_body)  # the same alert, now about v6, the version we went back to
    for alert in second["alerts"]:
        alert["fingerprint"] = "0123456789abcdef"
        alert["labels"]["prompt_version"] = "6"
        alert["annotations"].pop("rollback_to", None)
        alert["labels"].pop("rollback_to", None)
    assert app_stack.stack.post(second)[1]["accepted"][0]["prompt_version"] == 6
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 6  # not a second step back
    decision = app_stack.stack.decisions(PROMPT)[-1]
    assert decision["outcome"] == "needs_person"
    assert "v6, the version we rolled back to 0 min ago, is alerting too" in decision["reason"]
    assert "Needs a person" in app_stack.slack_api.top_level(CHANNEL)[-1].text

    set_policy(app_stack, approvers=[APPROVER], cooldown_minutes=0, max_rollback_steps=2)
    third = json.loads(json.dumps(second).replace("0123456789abcdef", "fedcba9876543210"))
    app_stack.stack.post(third)
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 5  # the policy allows a second step explicitly


def test_people_outside_slack_undo_and_approve_from_the_cli(app_stack, firing_body, capsys):
    rollback_id = app_stack.rolled_back(firing_body)
    # The actor is an approver's Slack user id: the CLI acts for approvers only.
    undo = ["undo", "--prompt", PROMPT, "--rollback-id", rollback_id, "--actor", APPROVER, "--in-process"]
    assert cli.main(undo) == 0
    assert '"outcome": "undone"' in capsys.readouterr().out
    assert app_stack.stack.production(PROMPT) == 7
    assert app_stack.stack.decisions(PROMPT)[-1]["actor"] == f"cli:{APPROVER}"
    assert f"Undone by cli:{APPROVER}" in app_stack.slack_api.thread(app_stack.incident().ts)[-1].text
    assert cli.main(undo) == 1  # again: production is no longer where the rollback left it
    assert "not v6 where this rollback left it; nothing changed" in capsys.readouterr().out
    assert app_stack.stack.production(PROMPT) == 7

    set_policy(
        app_stack, approvers=[APPROVER], cooldown_minutes=0, prompts={"support-*": {"mode": "approval"}}
    )
    second = copy.deepcopy(firing_body)
    for alert in second["alerts"]:
        alert["fingerprint"] = "0123456789abcdef"
    app_stack.stack.post(second)
    app_stack.stack.drain()
    proposal = app_stack.stack.decisions(PROMPT)[-1]
    assert proposal["outcome"] == "proposed"
    approve = ["approve", "--prompt", PROMPT, "--rollback-id", proposal["request_id"], "--actor", APPROVER]
    assert cli.main([*approve, "--in-process"]) == 0
    assert app_stack.stack.production(PROMPT) == 6
