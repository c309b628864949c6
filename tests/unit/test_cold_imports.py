"""What a cold start loads: each handler imports what its common path needs, and a feature used
on one branch only when that branch runs (a fresh interpreter per handler)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def modules_loaded_by(module: str) -> set[str]:
    code = f"import json, sys\nimport {module}\nprint(json.dumps(sorted(sys.modules)))"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))},
        "PYTHONPATH": os.pathsep.join([str(REPO / "lambdas"), str(REPO)]),
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )
    return set(json.loads(completed.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("handler", "left_for_later"),
    [
        # The first rollout message loads the rollout feature and its canary statistics.
        (
            "prompt_rollback.worker.handler",
            {"prompt_rollback.rollout.wiring", "prompt_rollback.domain.canary.analysis"},
        ),
    ],
)
def test_a_cold_start_leaves_one_branch_features_for_their_branch(
    handler: str, left_for_later: set[str]
) -> None:
    loaded = modules_loaded_by(handler)
    assert handler in loaded
    assert not loaded & left_for_later
