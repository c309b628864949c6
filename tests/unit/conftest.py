"""The in-memory ports the unit tests of the rollback service share (tests/unit/fakes.py)."""

from __future__ import annotations

import pytest
from prompt_rollback.domain.policy_config import PolicyConfig
from prompt_rollback.rollback.journal import Journal
from prompt_rollback.rollback.service import RollbackService

from tests.unit.fakes import Clock, InMemoryLedger, InMemoryNotifier, InMemoryRegistry


@pytest.fixture
def registry() -> InMemoryRegistry:
    return InMemoryRegistry()


@pytest.fixture
def ledger() -> InMemoryLedger:
    return InMemoryLedger()


@pytest.fixture
def notifier() -> InMemoryNotifier:
    return InMemoryNotifier()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(
    registry: InMemoryRegistry, ledger: InMemoryLedger, notifier: InMemoryNotifier, clock: Clock
) -> RollbackService:
    """The rollback service over the in-memory ports, with the default policy."""
    return RollbackService(
        Journal(lambda provider: registry, ledger, notifier, PolicyConfig(), "test", clock)
    )
