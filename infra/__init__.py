"""The AWS CDK app of prompt-rollback: one stack, one construct per concern."""

import sys
from pathlib import Path

# The configuration models are the worker's own (lambdas/prompt_rollback/domain), so a value the
# worker would refuse fails `cdk synth` instead of the first alert: make that package importable.
_LAMBDAS = str(Path(__file__).resolve().parent.parent / "lambdas")
if _LAMBDAS not in sys.path:
    sys.path.insert(0, _LAMBDAS)
