"""What cdk.json runs: app.py under the project's .venv, whichever python3 `npx cdk` finds first.
Standard library only, so the system interpreter can run it; it says how to build .venv if missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
MISSING_VENV = (
    f"error: {VENV_PYTHON} does not exist: the CDK app needs the project's environment.\n"
    "Build it with `make .venv/.installed` (Python 3.11+, about 20 s), then run `npx cdk synth` again\n"
    "(or `make synth`, which does both)."
)


def node_major() -> str:
    """The major version of the node running the CDK CLI, or "" without one on PATH."""
    node = shutil.which("node")
    if not node:
        return ""
    version = subprocess.run(  # noqa: S603 - node from PATH, as the CDK CLI itself runs it
        [node, "--version"], capture_output=True, text=True, check=False
    ).stdout
    return version.strip().lstrip("v").split(".")[0]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT / "lambdas"), str(ROOT), env.get("PYTHONPATH")])
    )
    major = node_major()
    if major and "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" not in env:
        # jsii's end-of-life banner reaches the terminal as Python byte strings (b'!!!…'): one
        # plain line instead, once per synth.
        env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = major
        if int(major) < 22:
            print(
                f"note: Node {major} is past its end of life for the CDK's jsii; Node 22+ is supported",
                file=sys.stderr,
            )
    return env


def main() -> None:
    if not VENV_PYTHON.exists():
        sys.exit(MISSING_VENV)
    app = subprocess.run(  # noqa: S603 - our own interpreter and app.py, by absolute path
        [str(VENV_PYTHON), str(ROOT / "app.py"), *sys.argv[1:]], env=environment(), check=False
    )
    sys.exit(app.returncode)


if __name__ == "__main__":
    main()
