"""The in-memory ports the unit tests of the rollback service share (tests/unit/fakes.py)."""

from __future__ import annotations

import pytest

from tests.unit.fakes import InMemoryLedger, InMemoryNotifier, InMemoryRegistry


@pytest.fixture
def registry() -> InMemoryRegistry:
    return InMemoryRegistry()


@pytest.fixture
def ledger() -> InMemoryLedger:
    return InMemoryLedger()


@pytest.fixture
def notifier() -> InMemoryNotifier:
    return InMemoryNotifier()
