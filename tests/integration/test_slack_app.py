"""The Slack app notifier over the real slack_sdk WebClient against the loopback Web API server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prompt_rollback.adapters.slack_app import SlackAppNotifier, web_client
from prompt_rollback.ports import RollbackNotice

from local_mode.slack_api_server import BOT_TOKEN, SlackApiServer

CHANNEL = "C0ONCALL01"


@pytest.fixture
def slack_api() -> Iterator[SlackApiServer]:
    server = SlackApiServer().start()
    yield server
    server.stop()


def _notifier(server: SlackApiServer, token: str = BOT_TOKEN) -> SlackAppNotifier:
    return SlackAppNotifier(web_client(token, server.base_url), channel_for=lambda prompt: CHANNEL)


def _notice(outcome: str, **extra: str) -> RollbackNotice:
    fields = {"rollback_id": "rb-0123456789abcdef01234567", **extra}
    return RollbackNotice(
        outcome=outcome,
        prompt_name="support-answer",
        provider="langfuse",
        from_version=7,
        to_version=6,
        reason="error rate 12% <!channel> <https://evil.example|click>",
        basis="previous production",
        actor="alertmanager",
        mode="automatic",
        when=datetime.now(UTC),
        **fields,  # type: ignore[arg-type]
    )


def test_a_rollback_is_posted_once_with_an_undo_button_carrying_only_the_rollback_id(slack_api):
    outcome = _notifier(slack_api).notify(_notice("rolled_back"))
    assert (outcome.status, outcome.channel) == ("sent", CHANNEL)
    [message] = slack_api.top_level(CHANNEL)
    assert message.ts == outcome.ts
    [undo] = message.buttons()
    assert (undo["action_id"], undo["value"]) == ("undo", "rb-0123456789abcdef01234567")
    shown = json.dumps(message.blocks)
    assert "<!channel>" not in shown and "<https://evil.example" not in shown  # escaped, as the webhook's


def test_a_proposal_offers_approve_and_reject_and_its_update_replaces_them(slack_api):
    notifier = _notifier(slack_api)
    posted = notifier.notify(_notice("proposed"))
    [message] = slack_api.top_level(CHANNEL)
    assert [b["action_id"] for b in message.buttons()] == ["approve", "reject"]

    updated = notifier.notify(_notice("rejected", channel=posted.channel, message_ts=posted.ts))
    assert (updated.status, updated.ts) == ("updated", posted.ts)
    assert len(slack_api.top_level(CHANNEL)) == 1  # the same message, updated in place
    assert message.updates == 1 and message.buttons() == []
    assert "rejected" in message.text


def test_an_update_of_a_deleted_message_posts_it_again_so_people_still_hear(slack_api):
    outcome = _notifier(slack_api).notify(_notice("undone", channel=CHANNEL, message_ts="1699999999.000001"))
    assert outcome.status == "sent"
    assert slack_api.calls == ["chat.update", "chat.postMessage"]


def test_follow_ups_go_in_the_thread_and_refusals_only_to_the_clicker(slack_api):
    notifier = _notifier(slack_api)
    posted = notifier.notify(_notice("rolled_back"))
    assert notifier.reply(posted.channel, posted.ts, "recovered after 4 min").status == "sent"
    assert notifier.tell(posted.channel, "U0STRANGER", "not allowed").status == "sent"
    assert [m.text for m in slack_api.thread(posted.ts)] == ["recovered after 4 min"]
    assert [(e.user, e.text) for e in slack_api.ephemerals] == [("U0STRANGER", "not allowed")]
    assert len(slack_api.top_level()) == 1


def test_rate_limits_are_retried_after_retry_after_but_a_long_wait_fails_instead(slack_api):
    notifier = _notifier(slack_api)
    slack_api.fail_next("chat.postMessage", status=429, retry_after="0")
    assert notifier.notify(_notice("rolled_back")).status == "sent"
    assert slack_api.calls == ["conversations.history", "chat.postMessage", "chat.postMessage"]

    slack_api.fail_next("chat.postMessage", status=429, retry_after="120")  # beyond the cap: no sleeping
    started = time.monotonic()
    assert notifier.notify(_notice("rolled_back", rollback_id="rb-second")).status == "failed"
    assert time.monotonic() - started < 5
    assert len(slack_api.top_level()) == 1


def test_a_retry_that_does_not_know_the_ts_finds_the_message_by_its_rollback_id_and_updates_it(slack_api):
    notifier = _notifier(slack_api)
    first = notifier.notify(_notice("rolled_back"))
    again = notifier.notify(_notice("rolled_back"))  # e.g. the ledger refused the write that stores the ts
    assert (again.status, again.ts) == ("updated", first.ts)
    other = notifier.notify(_notice("rolled_back", rollback_id="rb-another-incident"))
    assert other.status == "sent"
    assert len(slack_api.top_level(CHANNEL)) == 2


def test_without_the_history_scope_it_still_posts(slack_api):
    slack_api.fail_next("conversations.history", error="missing_scope")
    assert _notifier(slack_api).notify(_notice("rolled_back")).status == "sent"


def test_slack_errors_are_outcomes_and_keep_the_token_out(slack_api):
    outcome = _notifier(slack_api, token="xoxb-wrong-token").notify(_notice("rolled_back"))
    assert (outcome.status, outcome.detail) == ("failed", "invalid_auth")
    assert "xoxb" not in outcome.detail
    slack_api.stop()
    down = _notifier(slack_api).notify(_notice("rolled_back"))
    assert down.status == "failed"


def test_user_group_members_are_read_from_slack_and_unknown_groups_let_nobody_in(slack_api):
    slack_api.user_groups["S0ONCALL"] = ["U0ALICE", "U0BOB"]
    notifier = _notifier(slack_api)
    assert notifier.members_of("S0ONCALL") == {"U0ALICE", "U0BOB"}
    assert notifier.members_of("S0NOSUCH") == frozenset()
