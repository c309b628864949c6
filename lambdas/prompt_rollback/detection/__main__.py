"""`python -m prompt_rollback.detection [--check] [--output PATH]`: write (or check) the Langfuse rules.

Run from the repository root with `PYTHONPATH=lambdas` (the Makefile sets it). `--check` exits 1
when the committed file differs from what the trigger table renders.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from prompt_rollback.detection.rules import RULES_PATH, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prompt_rollback.detection", description=__doc__)
    parser.add_argument("--output", type=Path, default=RULES_PATH, help=f"default: {RULES_PATH}")
    parser.add_argument("--check", action="store_true", help="fail if the file is not up to date")
    args = parser.parse_args(argv)
    text = render()
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
