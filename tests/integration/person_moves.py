"""A person moving production in Langfuse's UI, as the ledger hears of it: the label moves in the
store, and Langfuse's two signed webhooks (the gaining and the losing version) reach POST
/langfuse/events, which records the move as a change record."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from prompt_rollback.changes import langfuse_handler

from local_mode.lambda_runtime import LocalLambdaContext, api_gateway_event
from tests.integration.conftest import Stack, reset_wiring
from tests.langfuse_webhooks import SECRET, prompt_event, serialize, sign

ALICE = {"name": "Alice Ops", "email": "alice@example.com"}


def hear_langfuse_webhooks(stack: Stack) -> None:
    stack.monkeypatch.setenv("LANGFUSE_WEBHOOK_SECRET", SECRET)
    reset_wiring()


def person_moves_production(stack: Stack, prompt: str, to_version: int, at: datetime | None = None) -> None:
    """Move `prompt`'s production to `to_version` by hand (at `at`, by Langfuse's clock); the
    ledger records it, from the version that lost the label."""
    before = stack.langfuse.store.production_version(prompt)
    stack.langfuse.store.set_labels(prompt, to_version, ["production"])
    for version, labels in ((to_version, ["production"]), (before, [])):
        if version is None:
            continue
        body = serialize(
            prompt_event(f"evt_{uuid.uuid4().hex}", prompt, version, labels, changed_at=at, user=ALICE)
        )
        headers = {"Content-Type": "application/json", "x-langfuse-signature": sign(body)}
        result = langfuse_handler.lambda_handler(
            api_gateway_event("POST", "/langfuse/events", headers, body),
            LocalLambdaContext("langfuse-events"),
        )
        assert result["statusCode"] == 200, json.loads(result.get("body") or "{}")
