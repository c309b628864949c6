"""The alert-source fixtures (tests/fixtures/sources, see its README for where each comes from)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SOURCES = Path(__file__).resolve().parent.parent / "fixtures" / "sources"


def source_fixture(name: str) -> Any:
    return json.loads((SOURCES / name).read_text())


def sns_message(name: str) -> tuple[str, dict[str, str], str]:
    """(Message, attributes name → value, MessageId) of the one record of an SNS fixture."""
    sns = source_fixture(name)["Records"][0]["Sns"]
    attributes = {key: value["Value"] for key, value in sns["MessageAttributes"].items()}
    return sns["Message"], attributes, sns["MessageId"]
