"""The split contract's test vectors (docs/rollout-vectors.json), shared by every copy of the rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS_PATH = Path(__file__).resolve().parents[2] / "docs" / "rollout-vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
ASSIGNMENTS: list[dict[str, Any]] = VECTORS["assignments"]
SHARES: list[dict[str, Any]] = VECTORS["shares"]


def vector_id(vector: dict[str, Any]) -> str:
    if "labels" in vector:
        return ",".join(vector["labels"]) or "no labels"
    return f"{vector['prompt']}:{vector['version']}:{vector['unit'][:20]}@{vector['share']}"
