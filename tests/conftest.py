"""Shared test helpers: where the captured Alertmanager fixtures are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
# Captured from a real Alertmanager 0.25 (see tests/fixtures/alertmanager/README.md).
ALERTMANAGER_FIXTURES = REPO / "tests" / "fixtures" / "alertmanager"
_NAMES = {"firing": "firing-0.25.0.json", "resolved": "resolved-0.25.0.json"}


def load_fixture(kind: str) -> dict[str, Any]:
    return json.loads((ALERTMANAGER_FIXTURES / _NAMES[kind]).read_text())


@pytest.fixture
def firing_body() -> dict[str, Any]:
    return load_fixture("firing")


@pytest.fixture
def resolved_body() -> dict[str, Any]:
    return load_fixture("resolved")
