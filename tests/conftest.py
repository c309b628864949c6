"""Shared test helpers: where the captured Alertmanager fixtures are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
# The fixtures captured from a real Alertmanager live in ../shared; examples/ holds the same
# bodies for the README's demo, used when the checkout has no shared/ beside it.
_SHARED_ALERTMANAGER = REPO.parent / "shared" / "alertmanager"
FIXTURES = _SHARED_ALERTMANAGER if _SHARED_ALERTMANAGER.is_dir() else REPO / "examples"
_NAMES = {
    "firing": ("firing-0.25.0.json", "alert-firing.json"),
    "resolved": ("resolved-0.25.0.json", "alert-resolved.json"),
}


def load_fixture(kind: str) -> dict[str, Any]:
    shared_name, example_name = _NAMES[kind]
    path = FIXTURES / (shared_name if FIXTURES == _SHARED_ALERTMANAGER else example_name)
    return json.loads(path.read_text())


@pytest.fixture
def firing_body() -> dict[str, Any]:
    return load_fixture("firing")


@pytest.fixture
def resolved_body() -> dict[str, Any]:
    return load_fixture("resolved")
