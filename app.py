#!/usr/bin/env python3
"""CDK entry point (`npx cdk synth|deploy`, or plain `python3 app.py` to synthesize into cdk.out)."""

from __future__ import annotations

import os
import sys

from infra.application import build_app
from infra.config import InvalidDeploymentConfig


def main() -> None:
    try:
        # The CLI sets CDK_OUTDIR; without it App() would write to a temporary directory.
        app, _ = build_app(outdir=os.environ.get("CDK_OUTDIR") or "cdk.out")
    except InvalidDeploymentConfig as error:
        # The pydantic message names every bad key; a traceback would only bury it.
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
