"""The Slack message: what, why, when, who, and nothing an attacker can smuggle in."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from prompt_rollback.adapters.slack import build_message, safe_link
from prompt_rollback.domain.mrkdwn import escape_text
from prompt_rollback.ports import RollbackNotice


def notice(**overrides) -> RollbackNotice:
    fields = dict(
        rollback_id="rb-123",
        outcome="rolled_back",
        prompt_name="support-answer",
        provider="langfuse",
        from_version=7,
        to_version=6,
        reason="rolled back",
        basis="rollback_to requested",
        actor="alertmanager",
        mode="automatic",
        when=datetime(2026, 4, 17, 14, 5, tzinfo=UTC),
        stage="prod",
        environment="prod",
        alertname="PromptRegression",
        summary="Exact match dropped 7 points",
        generator_url="http://prometheus:9090/graph?g0.expr=x",
        runbook_url="https://runbooks/prompt",
    )
    fields.update(overrides)
    return RollbackNotice(**fields)  # type: ignore[arg-type]


def all_text(message) -> str:
    return json.dumps(message, ensure_ascii=False)


def test_message_says_what_why_when_who_and_links():
    text = all_text(build_message(notice()))
    for expected in (
        "support-answer",
        "v7 → v6",
        "PromptRegression",
        "Exact match dropped 7 points",
        "2026-04-17 14:05:00Z",
        "alertmanager (automatic)",
        "rb-123",
        "<http://prometheus:9090/graph?g0.expr=x|Graph>",
        "<https://runbooks/prompt|Runbook>",
    ):
        assert expected in text


def test_mentions_and_links_in_alert_text_are_neutralised():
    message = build_message(
        notice(
            summary="<!channel> click <https://evil.example|here> @here & more",
            alertname="<@U123>",
            prompt_name="x<!everyone>",
        )
    )
    text = all_text(message)
    assert "<!channel>" not in text
    assert "<!everyone>" not in text
    assert "<@U123>" not in text
    assert "<https://evil.example" not in text
    assert "@here" not in text
    assert "&lt;!channel&gt;" in text
    assert "&amp; more" in text


def test_only_http_links_are_linked_and_they_cannot_break_out():
    assert safe_link("javascript:alert(1)", "Graph") == ""
    assert safe_link("file:///etc/passwd", "Graph") == ""
    link = safe_link("https://prom/graph?q=a|<!channel>", "Graph")
    assert "|<!channel>" not in link
    assert link.startswith("<https://prom/graph?q=a%7C%3C!channel%3E|")


def test_control_characters_and_huge_text_are_tamed():
    escaped = escape_text("a\x00b\x1b[31mc" + "x" * 5000, limit=100)
    assert "\x00" not in escaped and "\x1b" not in escaped
    assert len(escaped) <= 100


def test_failed_and_skipped_decisions_have_their_own_headline():
    assert "FAILED" in all_text(build_message(notice(outcome="failed", to_version=None)))
    skipped = all_text(build_message(notice(outcome="skipped", to_version=None, reason="cooldown: ...")))
    assert "Rollback skipped" in skipped
    assert "v7 → —" in skipped


def test_a_provider_target_is_named_and_escaped():
    text = all_text(build_message(notice(provider="bedrock", target="bedrock_agent_id=<!here>AGENT")))
    assert "*Target:* bedrock_agent_id=&lt;!here&gt;AGENT" in text
    assert "*Target:*" not in all_text(build_message(notice()))


def test_a_target_guessed_because_the_previous_production_is_unknown_is_flagged_in_slack():
    from prompt_rollback.domain.policy import RegistryState, choose_target

    target = choose_target(7, None, RegistryState(7, frozenset({5, 6, 7})), [])
    assert isinstance(target, tuple)
    text = all_text(build_message(notice(basis=target[1])))
    assert ":warning: *Target guessed:* previous production unknown" in text
    assert ":warning:" not in all_text(build_message(notice()))
