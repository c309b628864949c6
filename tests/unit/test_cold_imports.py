"""What a cold start loads: each handler imports what its common path needs, and a feature used
on one branch only when that branch runs (a fresh interpreter per handler)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def in_a_fresh_interpreter(module: str, expression: str) -> Any:
    """`expression` (JSON) evaluated in a fresh interpreter right after `import module`."""
    code = f"import json, sys\nimport {module}\nprint(json.dumps({expression}))"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "PAGERDUTY_"))},
        "PYTHONPATH": os.pathsep.join([str(REPO / "lambdas"), str(REPO)]),
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def modules_loaded_by(module: str) -> set[str]:
    return set(in_a_fresh_interpreter(module, "sorted(sys.modules)"))


# The models of prompt_rollback's loaded modules whose validator is built.
BUILT_MODELS = """sorted(
    f"{c.__module__}.{c.__qualname__}"
    for m in list(sys.modules.values()) if m and m.__name__.startswith("prompt_rollback")
    for c in vars(m).values()
    if isinstance(c, type) and getattr(c, "__pydantic_complete__", False) and c.__module__ == m.__name__
)"""


@pytest.mark.parametrize(
    ("handler", "left_for_later"),
    [
        # The first rollout message loads the rollout feature and its canary statistics.
        (
            "prompt_rollback.worker.handler",
            {"prompt_rollback.rollout.wiring", "prompt_rollback.domain.canary.analysis"},
        ),
        # A rollback, its Langfuse registry included, needs neither the watcher's states, the
        # alert intake nor the postmortem draft.
        (
            "prompt_rollback.worker.handler, prompt_rollback.adapters.langfuse_registry",
            {
                "prompt_rollback.domain.watch",
                "prompt_rollback.domain.intake",
                "prompt_rollback.domain.postmortem",
            },
        ),
        # Queueing alerts needs neither the people in the loop nor the watcher's states.
        (
            "prompt_rollback.sources.webhook_handler, prompt_rollback.adapters.rollback_queue",
            {"prompt_rollback.domain.interactions", "prompt_rollback.domain.watch"},
        ),
    ],
)
def test_a_cold_start_leaves_one_branch_features_for_their_branch(
    handler: str, left_for_later: set[str]
) -> None:
    loaded = modules_loaded_by(handler)
    assert set(handler.split(", ")) <= loaded
    assert not loaded & left_for_later


@pytest.mark.parametrize(
    "handler", ["prompt_rollback.sources.webhook_handler", "prompt_rollback.worker.handler"]
)
def test_a_cold_start_builds_a_model_when_it_is_first_used_not_when_imported(handler: str) -> None:
    # Each handler imports far more models than its requests validate (the policy, every queue
    # message kind, the Slack and rollout ones): building them all cost every cold start.
    assert in_a_fresh_interpreter(handler, BUILT_MODELS) == []


def test_a_rollback_without_a_pagerduty_key_never_loads_the_pagerduty_client() -> None:
    # Most deployments keep the CDK app's placeholder key: loading the client cost their first
    # rollback about a tenth of `import boto3`.
    pager = in_a_fresh_interpreter(
        "prompt_rollback.wiring",
        "[type(prompt_rollback.wiring.pager()).__name__, 'pagerduty' in sys.modules]",
    )
    assert pager == ["UnconfiguredPager", False]
