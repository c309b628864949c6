"""`python -m prompt_rollback.detection [--check] [--output PATH] [--for DURATION]`: the Langfuse rules.
Run from the repository root with `PYTHONPATH=lambdas`. `--check` exits 1 when the committed file differs;
`--for 30s` writes a copy whose triggers fire after 30 seconds, for a local demonstration only."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from datetime import timedelta
from pathlib import Path

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
    parser.add_argument("--check", action="store_true", help="fail if the file is not up to date")
    parser.add_argument("--for", dest="for_", type=_seconds, help="demo copy: every trigger's for: replaced")
    args = parser.parse_args(argv)
    if args.for_ is not None and (args.check or args.output == RULES_PATH):
        parser.error("--for writes a demo copy: give --output elsewhere (and no --check)")
    triggers = (
        TRIGGERS if args.for_ is None else [dataclasses.replace(t, for_duration=args.for_) for t in TRIGGERS]
    )
    text = render(triggers)
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(
                f"{args.output} is out of date with prompt_rollback/detection/triggers.py; "
                "regenerate it with `PYTHONPATH=lambdas python -m prompt_rollback.detection`",
                file=sys.stderr,
            )
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
