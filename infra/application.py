"""Build the CDK app: shared by app.py (cdk synth/deploy) and the infra tests."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import DeploymentConfig
from infra.stack import PromptRollbackStack, stack_name

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The context of cdk.json: the CLI passes it itself, plain `python3 app.py` does not."""
    context: dict[str, Any] = json.loads(CDK_JSON.read_text())["context"]
    return context


def build_app(
    *,
    context: Mapping[str, Any] | None = None,
    outdir: str | None = None,
    nag: bool = True,
) -> tuple[App, PromptRollbackStack]:
    """An App with the one stack. `context` overrides cdk.json (and the CLI's -c overrides both).

    The stack is environment-agnostic: synth needs no credentials, no lookups, no network.
    """
    app = App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    config = DeploymentConfig.from_context(app.node)
    stack = PromptRollbackStack(
        app,
        stack_name(config),
        config=config,
        description=(
            f"prompt-rollback ({config.stage}): Alertmanager webhook -> prompt rollback -> Slack -> audit"
        ),
    )
    if nag:
        # cdk-nag 3 runs as a policy-validation plugin when the app is synthesized.
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack
