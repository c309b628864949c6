"""A target the ledger names, chosen without Langfuse's version list, that was deleted since: the
label PATCH answers 404 and nothing moves, so the worker reads the list, decides again and moves
to the right older version in the same attempt, audited as a second intent and announced once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from langfuse.api.client import LangfuseAPI
from prompt_rollback import cli
from prompt_rollback.domain.audit import verify_chain

from tests.integration.conftest import Stack
from tests.integration.person_moves import hear_langfuse_webhooks, person_moves_production

PROMPTS = "/api/public/v2/prompts"


@pytest.fixture
def alert(firing_body) -> dict:
    """The captured alert without its `rollback_to` hint (a hint is checked against the list)."""
    for said in (firing_body["commonAnnotations"], *(a["annotations"] for a in firing_body["alerts"])):
        said.pop("rollback_to")
    return firing_body


@pytest.fixture
def v6_recorded_then_deleted(stack: Stack) -> Stack:
    """Production v4, then Alice moves it to v6 and to v7 (both on record); then v6 is deleted with
    Langfuse's own API, and its webhook has not arrived."""
    hear_langfuse_webhooks(stack)
    stack.langfuse.store.set_labels("support-answer", 4, ["production"])
    now = datetime.now(UTC)
    person_moves_production(stack, "support-answer", 6, at=now - timedelta(hours=2))
    person_moves_production(stack, "support-answer", 7, at=now - timedelta(hours=1))
    server = stack.langfuse
    api = LangfuseAPI(base_url=server.url, username=server.public_key, password=server.secret_key)
    api.prompts.delete("support-answer", version=6)
    return stack


def test_a_deleted_recorded_target_ends_on_the_version_before_it_audited_and_announced_once(
    v6_recorded_then_deleted: Stack, alert, capsys
):
    stack = v6_recorded_then_deleted
    requests_before, slack_before = len(stack.langfuse.app.requests), len(stack.slack.messages)
    stack.post(alert)
    stack.drain()
    assert stack.production() == 4  # what held production before v6, not the guess v5
    calls = stack.langfuse.app.requests[requests_before:]
    assert [method for method, path in calls if method == "PATCH"] == ["PATCH", "PATCH"]  # v6: 404; v4
    assert ("GET", PROMPTS) in calls  # the list, read only once the record's target proved gone
    ours = [r for r in stack.audit() if r["kind"] in ("intent", "decision")]
    assert [(r["kind"], r["to_version"]) for r in ours] == [("intent", 6), ("intent", 4), ("decision", 4)]
    assert len({r["request_id"] for r in ours}) == 1
    decision = ours[-1]
    assert (decision["outcome"], decision["from_version"]) == ("rolled_back", 7)
    assert decision["basis"].startswith("v6 no longer exists in the registry; held production before v6")
    assert stack.audit()[-1]["guards"]["open_intent"] is None  # the prompt is free again
    assert verify_chain(stack.audit()) == []
    [message] = stack.slack.messages[slack_before:]
    assert "v7 → v4" in json.dumps(message, ensure_ascii=False)

    # A re-delivery (the same alert again) gets that decision back and moves nothing.
    stack.post(alert)
    stack.drain()
    assert len([r for r in stack.audit() if r["kind"] == "decision"]) == 1
    assert stack.label_moves() == 2 and len(stack.slack.messages) == slack_before + 1

    capsys.readouterr()
    assert cli.main(["postmortem", decision["request_id"], "--format", "json"]) == 0
    timeline = json.loads(capsys.readouterr().out)["timeline"]
    assert [e["what"] for e in timeline].count("alert") == 1
    intents = [e["detail"] for e in timeline if e["what"] == "intent"]
    assert len(intents) == 2 and "v6 no longer exists in the registry" in intents[1]


def test_a_404_for_a_version_langfuse_still_lists_is_failed_as_before(stack: Stack, alert):
    hear_langfuse_webhooks(stack)
    stack.langfuse.store.set_labels("support-answer", 6, ["production"])
    person_moves_production(stack, "support-answer", 7)
    stack.langfuse.app.fail_next(404, count=1, methods=("PATCH",))
    stack.post(alert)
    stack.drain()
    assert [(r["kind"], r["to_version"]) for r in stack.audit() if r["kind"] != "change"] == [
        ("intent", 6),
        ("decision", 6),
    ]
    [decision] = stack.decisions()
    assert decision["outcome"] == "failed" and "HTTP 404" in decision["error"]
    assert stack.production() == 7


def test_production_moved_off_the_record_is_decided_on_the_list(stack: Stack, alert):
    # The ledger says Alice put v7 there after v6, but someone moved production to v5 and its
    # webhook has not arrived: v5's predecessor is on no record, so the versions are listed.
    hear_langfuse_webhooks(stack)
    stack.langfuse.store.set_labels("support-answer", 6, ["production"])
    person_moves_production(stack, "support-answer", 7)
    stack.langfuse.store.set_labels("support-answer", 5, ["production"])
    for said in (alert["commonLabels"], *(a["labels"] for a in alert["alerts"])):
        said["prompt_version"] = "5"
    before = len(stack.langfuse.app.requests)
    stack.post(alert)
    stack.drain()
    assert stack.langfuse.app.requests[before:] == [
        ("GET", "/api/public/v2/prompts/support-answer"),
        ("GET", PROMPTS),
        ("PATCH", "/api/public/v2/prompts/support-answer/versions/4"),
    ]
    [decision] = stack.decisions()
    assert (decision["from_version"], decision["to_version"]) == (5, 4)
    assert "guessed" in decision["basis"]
    assert stack.production() == 4
