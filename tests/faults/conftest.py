"""Fault-injection fixtures on top of the integration stack (moto, Langfuse-compatible server, Slack)."""

from __future__ import annotations

import pytest
from langfuse.api.core import http_client

from tests.integration import conftest as integration
from tests.integration.conftest import Stack

stack = integration.stack  # the integration suite's fixtures, re-exported
app_stack = integration.app_stack

Move = tuple[str, int | None, int | None]


@pytest.fixture
def production_moves(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[Move]:
    """Every change of a prompt's `production` label the Langfuse-compatible store made, as
    (prompt, before, after). Unlike counting PATCH requests, a PATCH that failed, or that
    re-applied the label where it already was, is not a move."""
    store = stack.langfuse.store
    original = store.set_labels
    moves: list[Move] = []

    def recording(name: str, version: int, new_labels: list[str]):
        before = store.production_version(name)
        result = original(name, version, new_labels)
        after = store.production_version(name)
        if before != after:
            moves.append((name, before, after))
        return result

    monkeypatch.setattr(store, "set_labels", recording)
    return moves


@pytest.fixture
def langfuse_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The langfuse SDK's retry waits (1 s, 2 s, or Retry-After), recorded instead of slept."""
    original = http_client._retry_timeout
    waits: list[float] = []

    def record(response, retries: int) -> float:
        waits.append(original(response=response, retries=retries))
        return 0.0

    monkeypatch.setattr(http_client, "_retry_timeout", record)
    return waits


@pytest.fixture
def botocore_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore standard-mode retry delays (random up to 1, 2, 4, 8 s for throttling), recorded
    instead of slept; the retries themselves still happen."""
    from botocore.retries import standard

    original = standard.ExponentialBackoff.delay_amount
    delays: list[float] = []

    def record(self, context) -> float:
        delays.append(original(self, context))
        return 0.0

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", record)
    return delays
