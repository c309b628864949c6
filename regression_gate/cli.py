"""`prompt-gate --baseline B --candidate C` (or two runs of one Langfuse dataset: `--langfuse-dataset D
--baseline-run R1 --candidate-run R2`). Exit codes: 0 APPROVE or INCONCLUSIVE, 1 REGRESSION, 2 bad input
or usage (or `--record` could not write the verdict), 3 INCONCLUSIVE with --strict."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from regression_gate.gate import QUALITY_METRICS, GateConfig, Verdict, evaluate
from regression_gate.loader import InputError, Sample, load_samples
from regression_gate.record import add_arguments as add_record_arguments
from regression_gate.record import check as check_record
from regression_gate.record import record
from regression_gate.report import render_json, render_markdown, render_text

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


def _days(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number of days, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prompt-gate",
        description="Compare a candidate prompt version's evaluation results with the baseline's.",
        epilog="Exit codes: 0 approve (or inconclusive), 1 regression, 2 bad input, "
        "3 inconclusive with --strict. Input format: docs/detection.md.",
    )
    parser.add_argument("--baseline", help="results of the current production version (JSON or JSONL)")
    parser.add_argument("--candidate", help="results of the new version (JSON or JSONL)")
    langfuse = parser.add_argument_group(
        "Langfuse dataset runs (instead of files; LANGFUSE_HOST, LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY)"
    )
    langfuse.add_argument("--langfuse-dataset", metavar="NAME", help="the dataset both runs ran on")
    langfuse.add_argument("--baseline-run", metavar="RUN", help="the run (experiment) of the current version")
    langfuse.add_argument("--candidate-run", metavar="RUN", help="the run (experiment) of the new version")
    langfuse.add_argument(
        "--since-days",
        type=_min_samples,
        default=90,
        help="look for run items this many days back (default 90)",
    )
    langfuse.add_argument(
        "--exact-match-score", default="exact_match", help="score name (default exact_match)"
    )
    langfuse.add_argument("--f1-score", default="f1", help="score name (default f1)")
    langfuse.add_argument("--judge-score", default="judge_score", help="score name (default judge_score)")
    parser.add_argument(
        "--alpha", type=_alpha, default=0.05, help="significance level of the Welch t-test (default 0.05)"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="report format (default text; markdown: for a pull-request comment)",
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
    add_record_arguments(parser)
    return parser


def exit_code_for(verdict: Verdict, strict: bool) -> int:
    if verdict is Verdict.REGRESSION:
        return EXIT_REGRESSION
    if verdict is Verdict.INCONCLUSIVE and strict:
        return EXIT_INCONCLUSIVE_STRICT
    return EXIT_OK


def _load(args: argparse.Namespace) -> tuple[list[Sample], list[Sample], str, str]:
    """Both sides and their names, from files or from Langfuse."""
    if args.langfuse_dataset is None:
        return load_samples(args.baseline), load_samples(args.candidate), args.baseline, args.candidate
    from langfuse.api.client import LangfuseAPI

    from regression_gate.langfuse_runs import ScoreNames, load_run

    keys = {name: os.environ.get(name, "") for name in ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY")}
    missing = [name for name, value in keys.items() if not value]
    if missing:
        raise InputError(f"set {' and '.join(missing)} to read Langfuse dataset runs")
    api = LangfuseAPI(
        base_url=os.environ.get("LANGFUSE_HOST", "https://cloud.langfuse.com").rstrip("/"),
        username=keys["LANGFUSE_PUBLIC_KEY"],
        password=keys["LANGFUSE_SECRET_KEY"],
        x_langfuse_sdk_name="prompt-gate",
    )
    names = ScoreNames(args.exact_match_score, args.f1_score, args.judge_score)
    since = datetime.now(UTC) - timedelta(days=args.since_days)
    dataset = args.langfuse_dataset
    return (
        load_run(api, dataset, args.baseline_run, names, since),
        load_run(api, dataset, args.candidate_run, names, since),
        f"{dataset} / {args.baseline_run}",
        f"{dataset} / {args.candidate_run}",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on a usage error
    files = args.baseline is not None or args.candidate is not None
    runs = any(v is not None for v in (args.langfuse_dataset, args.baseline_run, args.candidate_run))
    if files == runs:
        parser.error("give either --baseline and --candidate, or --langfuse-dataset with two runs")
    if files and (args.baseline is None or args.candidate is None):
        parser.error("--baseline and --candidate go together")
    if runs and None in (args.langfuse_dataset, args.baseline_run, args.candidate_run):
        parser.error("--langfuse-dataset needs --baseline-run and --candidate-run")
    check_record(parser, args)
    try:
        baseline, candidate, baseline_name, candidate_name = _load(args)
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
        sys.stdout.write(render_json(result, code, baseline_name, candidate_name))
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(result, baseline_name, candidate_name))
    else:
        sys.stdout.write(render_text(result, baseline_name, candidate_name))
    if args.record and not record(args, result, baseline_name, candidate_name):
        return EXIT_BAD_INPUT
    return code
