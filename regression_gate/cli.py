"""Command line: ``python -m regression_gate --baseline B --candidate C``.

Exit codes:
  0  APPROVE, or INCONCLUSIVE without --strict
  1  REGRESSION
  2  bad input or usage (unreadable/malformed file, bad option)
  3  INCONCLUSIVE with --strict
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from regression_gate.gate import QUALITY_METRICS, GateConfig, Verdict, evaluate
from regression_gate.loader import InputError, load_samples
from regression_gate.report import render_json, render_text

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2
EXIT_INCONCLUSIVE_STRICT = 3


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _min_samples(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be >= 2, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m regression_gate",
        description="Compare a candidate prompt version's evaluation results with the baseline's.",
        epilog="Exit codes: 0 approve (or inconclusive), 1 regression, 2 bad input, "
        "3 inconclusive with --strict. Input format: docs/detection.md.",
    )
    parser.add_argument(
        "--baseline", required=True, help="results of the current production version (JSON or JSONL)"
    )
    parser.add_argument("--candidate", required=True, help="results of the new version (JSON or JSONL)")
    parser.add_argument(
        "--alpha", type=_alpha, default=0.05, help="significance level of the Welch t-test (default 0.05)"
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="report format (default text)"
    )
    parser.add_argument(
        "--primary",
        choices=("auto", *QUALITY_METRICS),
        default="auto",
        help="metric that must improve to APPROVE "
        "(default auto: the first of exact_match, f1, judge_score with enough data)",
    )
    parser.add_argument(
        "--min-samples",
        type=_min_samples,
        default=20,
        help="fewest values per side for a comparison or trigger to count (default 20)",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 3 instead of 0 when the verdict is INCONCLUSIVE"
    )
    return parser


def exit_code_for(verdict: Verdict, strict: bool) -> int:
    if verdict is Verdict.REGRESSION:
        return EXIT_REGRESSION
    if verdict is Verdict.INCONCLUSIVE and strict:
        return EXIT_INCONCLUSIVE_STRICT
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error
    try:
        baseline = load_samples(args.baseline)
        candidate = load_samples(args.candidate)
        if args.primary != "auto":
            attribute = args.primary
            for label, samples in (("baseline", baseline), ("candidate", candidate)):
                if all(getattr(s, attribute) is None for s in samples):
                    raise InputError(f"{label} has no {attribute} values (chosen with --primary)")
    except InputError as exc:
        print(f"regression_gate: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT

    config = GateConfig(alpha=args.alpha, min_samples=args.min_samples, primary=args.primary)
    result = evaluate(baseline, candidate, config)
    code = exit_code_for(result.verdict, args.strict)
    if args.format == "json":
        sys.stdout.write(render_json(result, code, args.baseline, args.candidate))
    else:
        sys.stdout.write(render_text(result, args.baseline, args.candidate))
    return code
