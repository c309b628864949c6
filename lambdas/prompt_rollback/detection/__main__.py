"""`python -m prompt_rollback.detection [--check] [--output PATH] [--for DURATION]`: the Langfuse rules and
the Grafana dashboard. Run from the repository root with `PYTHONPATH=lambdas`. `--check` exits 1 when a
committed file differs; `--for 30s` writes a rules copy whose triggers fire after 30 s, for a demo only."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from datetime import timedelta
from pathlib import Path

from prompt_rollback.detection import dashboard
from prompt_rollback.detection.rules import RULES_PATH, render
from prompt_rollback.detection.triggers import TRIGGERS


def _seconds(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)(s|m)", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected e.g. 30s or 2m, got {text!r}")
    return timedelta(seconds=int(match[1]) * (60 if match[2] == "m" else 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prompt_rollback.detection", description=__doc__)
    parser.add_argument("--output", type=Path, default=RULES_PATH, help=f"default: {RULES_PATH}")
    parser.add_argument(
        "--dashboard-output",
        type=Path,
        default=dashboard.DASHBOARD_PATH,
        help=f"default: {dashboard.DASHBOARD_PATH}",
    )
    parser.add_argument("--check", action="store_true", help="fail if a file is not up to date")
    parser.add_argument("--for", dest="for_", type=_seconds, help="demo copy: every trigger's for: replaced")
    args = parser.parse_args(argv)
    if args.for_ is not None and (args.check or args.output == RULES_PATH):
        parser.error("--for writes a demo copy: give --output elsewhere (and no --check)")
    triggers = (
        TRIGGERS if args.for_ is None else [dataclasses.replace(t, for_duration=args.for_) for t in TRIGGERS]
    )
    files = {args.output: render(triggers)}
    if args.for_ is None:
        files[args.dashboard_output] = dashboard.render()
    if args.check:
        stale = [path for path, text in files.items() if _current(path) != text]
        for path in stale:
            print(
                f"{path} is out of date with prompt_rollback/detection/triggers.py; "
                "regenerate it with `PYTHONPATH=lambdas python -m prompt_rollback.detection`",
                file=sys.stderr,
            )
        if stale:
            return 1
        print(", ".join(str(path) for path in files) + " up to date")
        return 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    return 0


def _current(path: Path) -> str:
    return path.read_text() if path.exists() else ""


if __name__ == "__main__":
    sys.exit(main())
