"""Clicks judged by key, not by the newest records: a flood of refused clicks cannot hide a
rollback from its approver, and a second Undo of one rollback is answered for what it is now."""

from __future__ import annotations

from prompt_rollback import cli

from tests.integration.slack_app_stack import APPROVER, STRANGER, AppStack

PROMPT = "support-answer"


def test_a_hundred_refused_undo_clicks_leave_the_approvers_undo_working(app_stack, firing_body):
    rollback_id = app_stack.rolled_back(firing_body)
    for click in range(100):
        assert (
            app_stack.click(rollback_id, "undo", user=STRANGER, action_ts=f"1700000000.{click:06d}")[0] == 200
        )
    app_stack.stack.drain(max_batches=200)
    refused = [r for r in app_stack.stack.audit(PROMPT) if r.get("outcome") == "refused"]
    assert len(refused) == 100 and app_stack.stack.production(PROMPT) == 6

    app_stack.click(rollback_id, "undo", user=APPROVER)
    app_stack.stack.drain()
    assert app_stack.stack.production(PROMPT) == 7
    assert not [e for e in app_stack.slack_api.ephemerals if e.user == APPROVER]


def _undone_then_moved_back_by_a_person(app: AppStack, firing_body) -> str:
    """v7 rolled back to v6; Alice undoes it (v7 again); Bob puts v6 in production by hand."""
    rollback_id = app.rolled_back(firing_body)
    app.click(rollback_id, "undo", user=APPROVER)
    app.stack.drain()
    assert app.stack.production(PROMPT) == 7
    app.stack.langfuse.store.set_labels(PROMPT, 6, ["production"])
    return rollback_id


def test_a_second_undo_of_one_rollback_changes_nothing_and_says_so_in_the_audit(app_stack, firing_body):
    rollback_id = _undone_then_moved_back_by_a_person(app_stack, firing_body)
    thread_before = len(app_stack.slack_api.thread(app_stack.incident().ts))

    app_stack.click(rollback_id, "undo", user="U0BOB")  # Dave, from the approvers' user group
    app_stack.stack.drain()

    assert app_stack.stack.production(PROMPT) == 6
    last = app_stack.stack.audit(PROMPT)[-1]
    assert (last["kind"], last["outcome"], last["rollback_id"]) == ("followup", "already_undone", rollback_id)
    assert "already undone by slack:U0ALICE" in last["reason"] and "production is v6" in last["reason"]
    [told] = [e for e in app_stack.slack_api.ephemerals if e.user == "U0BOB"]
    assert told.text.startswith("Nothing changed") and "production is v6" in told.text
    thread = [m.text for m in app_stack.slack_api.thread(app_stack.incident().ts)]
    assert len(thread) == thread_before and not thread[-1].startswith("Undone by <@U0BOB>")


def test_a_second_undo_from_the_cli_exits_non_zero_and_is_audited(app_stack, firing_body, capsys):
    rollback_id = _undone_then_moved_back_by_a_person(app_stack, firing_body)
    capsys.readouterr()
    # The CLI acts for an approver only: Dave, from the approvers' user group, by his Slack id.
    undo = ["undo", "--prompt", PROMPT, "--rollback-id", rollback_id, "--actor", "U0BOB", "--in-process"]
    assert cli.main(undo) == 1
    out = capsys.readouterr().out
    assert '"outcome": "already_undone"' in out and '"moved": false' in out
    assert app_stack.stack.production(PROMPT) == 6
    last = app_stack.stack.audit(PROMPT)[-1]
    assert (last["outcome"], last["actor"]) == ("already_undone", "cli:U0BOB")
