"""The label PATCH's answer is the read-back: a move is done only when that answer shows the target
holding `production`; a target that does not exist answers 404 and nothing moves."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from prompt_rollback import wiring
from prompt_rollback.adapters.langfuse_registry import LangfuseRegistry
from prompt_rollback.domain.changes import ProductionChange
from prompt_rollback.errors import NotFound
from prompt_rollback.ports import PromptRef

from local_mode.langfuse_server import LangfuseCompatibleServer
from tests.integration.conftest import Stack

PROMPT = "support-answer"


def _a_patch_that_answers_without_moving(stack: Stack) -> None:
    """Langfuse answers 200 with the version, but the label did not land on it."""
    store = stack.langfuse.store

    def answered_not_moved(name: str, version: int, new_labels: list[str]) -> dict[str, Any] | None:
        return store.get(name, version=version)

    stack.monkeypatch.setattr(store, "set_labels", answered_not_moved)


def test_a_move_whose_answer_does_not_show_production_on_the_target_is_not_done(
    stack: Stack, firing_body: dict[str, Any]
):
    _a_patch_that_answers_without_moving(stack)
    stack.post(firing_body)
    stack.drain()
    decision = stack.decisions(PROMPT)[-1]
    assert decision["outcome"] == "failed"
    assert "after moving it to v6" in decision["reason"]
    assert stack.production(PROMPT) == 7


def test_the_move_answers_which_version_holds_production():
    with LangfuseCompatibleServer() as langfuse:
        for version in (1, 2, 3):
            langfuse.store.create("p", f"v{version}", labels=["production"])
        registry = LangfuseRegistry(langfuse.url, langfuse.public_key, langfuse.secret_key)
        _, production = registry.move_and_read_back(PromptRef("p"), 2)
        assert production == 2 == langfuse.store.production_version("p")
        with pytest.raises(NotFound, match="move label: HTTP 404"):
            registry.move_and_read_back(PromptRef("p"), 9)  # no v9: the PATCH answers 404
        assert langfuse.store.production_version("p") == 2


def test_a_persons_move_recorded_between_our_read_and_our_intent_wins(
    stack: Stack, firing_body: dict[str, Any]
):
    """The compare-before-swap without a second ledger read: the intent follows the head the
    worker read, so a change recorded after that read takes its place and nothing moves."""
    list_versions = LangfuseRegistry.list_versions  # nothing on record: the list is read first

    def then_a_person_moves_it(registry: LangfuseRegistry, ref: PromptRef) -> Any:
        state = list_versions(registry, ref)
        if stack.production(PROMPT) == 7:  # once: the webhook of their move is recorded at once
            stack.langfuse.store.set_labels(PROMPT, 5, ["production"])
            ledger = wiring.audit_ledger()
            head = ledger.recent(f"langfuse#{PROMPT}", 1)
            move = ProductionChange(
                f"langfuse#{PROMPT}",
                PROMPT,
                "langfuse",
                "moved",
                7,
                5,
                "jane",
                datetime.now(UTC),
                "langfuse-webhook",
                ("evt-1",),
                version=5,
            )
            ledger.append(move.stamped(datetime.now(UTC)), head[0] if head else None)
        return state

    stack.monkeypatch.setattr(LangfuseRegistry, "list_versions", then_a_person_moves_it)
    stack.post(firing_body)
    stack.drain()
    assert stack.label_moves() == 0  # none of ours: theirs went to the store directly
    assert stack.production(PROMPT) == 5
    [decision] = stack.decisions(PROMPT)
    assert decision["outcome"] == "skipped"
    assert "jane moved production to v5" in decision["reason"]
    assert [r["kind"] for r in stack.audit(PROMPT)] == ["change", "decision"]
