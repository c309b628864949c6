"""`--record --prompt P --version V`: the gate's verdict on the prompt's audit chain, where a rollout
plan with `require_gate: true` looks for it (docs/rollout.md). Needs AUDIT_TABLE_NAME and AWS access."""

from __future__ import annotations

import argparse
import sys

from regression_gate.gate import GateResult

ACTOR_LIMIT = 180


def _version(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a version number (1 or more), got {text!r}")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    evidence = parser.add_argument_group("gate evidence (a rollout plan may require a passing one)")
    evidence.add_argument("--record", action="store_true", help="write the verdict to the audit ledger")
    evidence.add_argument("--prompt", help="the prompt the candidate is a version of")
    evidence.add_argument("--version", type=_version, help="the candidate's version")
    evidence.add_argument("--provider", choices=("langfuse", "bedrock"), default="langfuse")
    evidence.add_argument("--actor", default="prompt-gate", help="who ran the gate (CI job, person)")


def check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Bad input exits 2 before anything is evaluated or written."""
    named = args.prompt is not None or args.version is not None
    if not args.record:
        if named:
            parser.error("--prompt and --version go with --record")
        return
    if args.prompt is None or args.version is None:
        parser.error("--record needs --prompt and --version")
    from prompt_rollback.domain.prompt_names import prompt_name_problem

    problem = prompt_name_problem(args.prompt)
    if problem:
        parser.error(f"--prompt: {problem}")
    if not args.actor.strip() or len(args.actor) > ACTOR_LIMIT:
        parser.error(f"--actor must be 1 to {ACTOR_LIMIT} characters")


def record(args: argparse.Namespace, result: GateResult, baseline: str, candidate: str) -> bool:
    """Write the verdict; False (and why, on stderr) when it could not be written."""
    from prompt_rollback.errors import ConfigurationError, RollbackError
    from prompt_rollback.rollout.gate_evidence import record_gate_verdict

    detail = {
        "baseline": baseline[:500],
        "candidate": candidate[:500],
        "primary_metric": result.primary_metric or "",
        "reasons": [reason[:500] for reason in result.reasons[:20]],
        "n_baseline": result.n_baseline,
        "n_candidate": result.n_candidate,
    }
    try:
        sealed = record_gate_verdict(
            args.provider, args.prompt, args.version, result.verdict.value, args.actor, detail
        )
    except ConfigurationError as error:
        print(f"regression_gate: error: cannot record the verdict: {error}", file=sys.stderr)
        return False
    except RollbackError as error:
        print(f"regression_gate: error: the verdict was not recorded: {error}", file=sys.stderr)
        return False
    print(
        f"gate verdict recorded: {args.prompt} v{args.version} {result.verdict.value} "
        f"(audit seq {sealed.seq} hash {sealed.hash[:12]})",
        file=sys.stderr,
    )
    return True
