"""The operators' command line: force a rollback, undo or approve one, read the audit trail
and the production history, verify the hash chain. `--help` shows every command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prompt_rollback.domain import timeline
from prompt_rollback.domain.audit import (
    ANCHOR_DELAY_TOLERANCE,
    parse_iso_utc,
    unanchored,
    verify_against_anchors,
    verify_chain,
)

if TYPE_CHECKING:
    from prompt_rollback.adapters.audit_store import DynamoDBAuditLedger
    from prompt_rollback.adapters.chain_anchor import S3ChainAnchors

USAGE = """`python -m prompt_rollback.cli`: force a rollback, ask the audit trail, verify its hash chain.

    rollback --prompt support-answer --to 6 --reason "bad answers" --actor jane [--function-name NAME]
             [--provider bedrock --target bedrock_agent_id=AGENT12345 --target bedrock_alias_id=ALIAS12345]
    audit    --prompt financial-analysis --since 2026-04-17T14:00Z --until 2026-04-17T15:00Z [--version 6]
             [--format table|json|csv]
    history  --prompt financial-analysis
    adopt    --prompt support-answer [--provider langfuse] [--format json]
    verify   --prompt support-answer | --all [--anchor-bucket BUCKET]
    undo     --prompt support-answer --rollback-id rb-… --actor U012ABCDEF   (an approver's Slack id)
    approve  --prompt financial-analysis --rollback-id rb-… --actor U012ABCDEF   (also: reject)
    postmortem rb-… [--format markdown|json]   (a draft of one rollback, from the ledger and the registry)
    rollout  start --prompt support-answer --version 8 [--plan plan.yaml] [--actor jane] [--format json]
             (also: status, list, promote [--full], abort, pause, resume, approve, reject: docs/rollout.md)

`audit` is one timeline of the production changes people made (Langfuse webhooks, CloudTrail)
and the decisions we made, with who, when and why. `history` is the production timeline: which
version held production from when to when, and who put it there. `audit`, `history` and
`verify` read the table named by AUDIT_TABLE_NAME (or --table) with the usual AWS credentials;
`verify` also checks the chain heads anchored in ANCHOR_BUCKET_NAME (or --anchor-bucket) and lists
records no anchor covers yet (a finding once they are 15 minutes old).
`adopt` (run once at install) records production as the registry shows it, so the version before
the next move is known rather than guessed; run again, it changes nothing.
`rollback`, `undo`, `approve` and `reject` invoke the worker Lambda (--function-name or
WORKER_FUNCTION_NAME), or run the worker in this process with --in-process (local mode), which
needs the worker's settings: AUDIT_TABLE_NAME, IDEMPOTENCY_TABLE_NAME, LANGFUSE_HOST +
LANGFUSE_PUBLIC_KEY + LANGFUSE_SECRET_KEY (or LANGFUSE_SECRET_NAME) for Langfuse, and optionally
SLACK_WEBHOOK_URL. A missing or malformed one is reported by name (exit 2) before anything is changed.
"""

# A change is recorded when its webhook or CloudTrail event arrives, after it happened (CloudTrail:
# minutes). The ledger index is by recording time, so the query reaches this far past --until.
RECORDING_DELAY = timedelta(hours=1)


def _moment(text: str) -> datetime:
    try:
        moment = parse_iso_utc(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _label(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name.strip():
        raise argparse.ArgumentTypeError(f"expected LABEL=VALUE, got {text!r}")
    return name.strip(), value.strip()


def _not_blank(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be blank")
    return text.strip()


def _ledger(table: str | None) -> DynamoDBAuditLedger:
    import boto3

    from prompt_rollback.adapters.audit_store import DynamoDBAuditLedger

    name = table or os.environ.get("AUDIT_TABLE_NAME")
    if not name:
        sys.exit("set AUDIT_TABLE_NAME or pass --table")
    return DynamoDBAuditLedger(boto3.resource("dynamodb").Table(name))


def _audit(args: argparse.Namespace) -> int:
    until = args.until or datetime.now(UTC)
    since = args.since or until - timedelta(days=30)
    if since >= until:  # --until is exclusive: such a window holds nothing, and is a mistake
        print(
            f"--since {since:%Y-%m-%dT%H:%M:%SZ} is not before --until {until:%Y-%m-%dT%H:%M:%SZ}",
            file=sys.stderr,
        )
        return 2
    records = [r.to_item() for r in _ledger(args.table).between(args.prompt, since, until + RECORDING_DELAY)]
    items = timeline.entries(records, since, until, version=args.version, include_intents=args.all)
    if args.format == "table":
        about = f" v{args.version}" if args.version is not None else ""
        print(
            f"{len(items)} changes and decisions for {args.prompt!r}{about} "
            f"from {since:%Y-%m-%d %H:%M}Z to {until:%Y-%m-%d %H:%M}Z"
        )
    print(timeline.render(items, args.format))
    return 0


def _history(args: argparse.Namespace) -> int:
    records = list(_ledger(args.table).chain(f"{args.provider}#{args.prompt}"))
    if args.format == "table":
        print(f"production of {args.provider} prompt {args.prompt!r}, oldest first")
    print(timeline.render_tenures(timeline.tenures(records), args.format))
    return 0


def _verify(args: argparse.Namespace) -> int:
    ledger = _ledger(args.table)
    bucket = args.anchor_bucket or os.environ.get("ANCHOR_BUCKET_NAME")
    anchors = None
    if bucket:
        import boto3

        from prompt_rollback.adapters.chain_anchor import S3ChainAnchors

        anchors = S3ChainAnchors(boto3.client("s3"), bucket)
    if not args.all:
        return 0 if _verify_one(ledger, anchors, f"{args.provider}#{args.prompt}") else 1
    # A prompt whose records are all gone is known only by its anchors.
    keys = sorted(set(ledger.prompt_keys()) | set(anchors.prompt_keys() if anchors else ()))
    failed = [key for key in keys if not _verify_one(ledger, anchors, key, label=f"{key}: ")]
    print(f"{len(keys)} prompts, {len(failed)} with problems" + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _verify_one(
    ledger: DynamoDBAuditLedger, anchors: S3ChainAnchors | None, prompt_key: str, label: str = ""
) -> bool:
    """Print one chain's findings and verdict; True when it is intact."""
    records = list(ledger.chain(prompt_key))
    problems = verify_chain(records)
    if anchors is None:
        anchored = " (no anchor bucket: a cut end of the chain cannot be seen)"
        if not records:
            problems += verify_against_anchors(records, [])
    else:
        heads = anchors.anchors(prompt_key)
        problems += verify_against_anchors(records, heads)
        waiting = unanchored(records, heads, datetime.now(UTC))
        problems += waiting.late
        anchored = f", head anchored at seq {max(a.seq for a in heads)}" if heads else ", no anchor"
        if waiting.pending:
            anchored += (
                f", seq {waiting.pending[0]}-{waiting.pending[-1]} not anchored yet (recorded in the "
                f"last {ANCHOR_DELAY_TOLERANCE.seconds // 60} minutes)"
            )
    for problem in problems:
        print(f"{label}seq {problem.seq}: {problem.problem}")
    verdict = "chain intact" if not problems else f"{len(problems)} problems"
    print(f"{label}{len(records)} records{anchored}, {verdict}")
    return not problems


def _adopt(args: argparse.Namespace) -> int:
    from prompt_rollback import wiring
    from prompt_rollback.changes.recorder import ChangeRecorder
    from prompt_rollback.ports import PromptRef

    if args.table:
        os.environ["AUDIT_TABLE_NAME"] = args.table
    production = wiring.registry_for(args.provider).read_production(PromptRef(args.prompt))
    actor = f"prompt-rollback adopt ({args.actor})" if args.actor else "prompt-rollback adopt"
    outcome = ChangeRecorder(wiring.audit_ledger()).observe(args.provider, args.prompt, production, actor)
    if args.format == "json":
        answer = {"prompt_name": args.prompt, "provider": args.provider, "production": production}
        print(json.dumps(answer | {"status": outcome.status, "detail": outcome.detail, "seq": outcome.seq}))
    elif outcome.seq is not None:
        print(f"{outcome.detail} (audit seq {outcome.seq})")
    else:
        print(f"{args.prompt}: nothing to record, {outcome.detail}")
    return 0


def _postmortem(args: argparse.Namespace) -> int:
    from prompt_rollback.domain.postmortem import NotInLedger, render
    from prompt_rollback.postmortem.wiring import service

    if args.table:
        os.environ["AUDIT_TABLE_NAME"] = args.table
    if not os.environ.get("AUDIT_TABLE_NAME"):
        sys.exit("set AUDIT_TABLE_NAME or pass --table")
    try:
        draft = service().draft(args.rollback_id)
    except NotInLedger as error:
        print(f"{error.args[0]}; `prompt-rollback audit --prompt …` lists the rollback ids", file=sys.stderr)
        return 1
    print(render(draft, args.format), end="")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    payload: dict[str, Any] = {
        "prompt": args.prompt,
        "reason": args.reason,
        "actor": args.actor,
        "provider": args.provider,
    }
    for key, value in (
        ("to_version", args.to),
        ("from_version", args.from_version),
        ("request_id", args.request_id),
    ):
        if value is not None:
            payload[key] = value
    if args.target:
        payload["target"] = dict(args.target)
    if args.dry_run:
        payload["dry_run"] = True
    if args.allow_forward:
        payload["allow_forward"] = True
    if args.in_process:
        result = _run_worker_here(payload)
        if result.get("error") == "configuration error":
            print(f"configuration error: {result['detail']} (nothing was changed)", file=sys.stderr)
            return 2
    else:
        import boto3

        function = args.function_name or os.environ.get("WORKER_FUNCTION_NAME")
        if not function:
            sys.exit("set WORKER_FUNCTION_NAME or pass --function-name (or --in-process for local mode)")
        response = boto3.client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload).encode())
        result = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            print(json.dumps(result, indent=2))
            return 1
    print(in_words(result, args.prompt))
    print(json.dumps(result, indent=2))
    return 0 if result.get("outcome") in ("rolled_back", "dry_run") else 1


def _click(args: argparse.Namespace) -> int:
    """Undo, Approve or Reject as the Slack buttons do, for people outside Slack."""
    payload = {
        "cli_action": {
            "click": args.command,
            "rollback_id": args.rollback_id,
            "prompt": args.prompt,
            "provider": args.provider,
            "actor": args.actor,
        }
    }
    result = _invoke_worker(args, payload)
    print(in_words(result, args.prompt))
    print(json.dumps(result, indent=2))
    return 0 if result.get("outcome") in ("undone", "approved", "rejected") else 1


def _invoke_worker(args: argparse.Namespace, payload: dict[str, Any]) -> dict[str, Any]:
    if args.in_process:
        return _run_worker_here(payload)
    import boto3

    function = args.function_name or os.environ.get("WORKER_FUNCTION_NAME")
    if not function:
        sys.exit("set WORKER_FUNCTION_NAME or pass --function-name (or --in-process for local mode)")
    response = boto3.client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    result: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
    return result


def in_words(result: dict[str, Any], prompt: str) -> str:
    """The outcome for a person at a terminal; the JSON that follows is for scripts."""
    if "error" in result:
        return f"error: {result['error']}" + (f": {result['detail']}" if result.get("detail") else "")
    outcome = str(result.get("outcome", "unknown")).replace("_", " ")
    if result.get("from_version") is not None and result.get("to_version") is not None:
        moved = f"{prompt} v{result['from_version']} -> v{result['to_version']}"
    else:
        moved = prompt
    seq = f" (audit seq {result['seq']})" if result.get("seq") is not None else ""
    again = "; a repeat, answered from the first decision" if result.get("replayed") else ""
    return f"{outcome}: {moved}: {result.get('reason', '')}{seq}{again}"


def _run_worker_here(payload: dict[str, Any]) -> dict[str, Any]:
    """The worker in this process, without its Lambda output: JSON logs below warnings, no EMF
    metric lines (nobody collects them here), no Powertools "no metrics" warning."""
    import logging
    import warnings

    from prompt_rollback.observability import logger
    from prompt_rollback.worker.handler import lambda_handler

    level, metrics_disabled = logger.log_level, os.environ.get("POWERTOOLS_METRICS_DISABLED")
    logger.setLevel(max(level, logging.ERROR))
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dict(lambda_handler(payload, _CliContext()))
    finally:
        logger.setLevel(level)
        if metrics_disabled is None:
            os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
        else:
            os.environ["POWERTOOLS_METRICS_DISABLED"] = metrics_disabled


class _CliContext:
    function_name = "prompt-rollback-cli"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:prompt-rollback-cli"
    aws_request_id = "cli"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _add_reading_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="who changed a prompt, when and why (changes and decisions)")
    audit.add_argument("--prompt", required=True)
    audit.add_argument("--since", type=_moment, help="ISO-8601, default 30 days before --until")
    audit.add_argument("--until", type=_moment, help="ISO-8601 (exclusive), default now")
    audit.add_argument("--version", type=int, help="only what moved production to or from this version")
    audit.add_argument("--format", choices=("table", "json", "csv"), default="table")
    audit.add_argument("--all", action="store_true", help="also show intent records (the lock before a move)")
    audit.add_argument("--table")
    audit.set_defaults(run=_audit)

    history = commands.add_parser("history", help="which version held production when, and who put it there")
    history.add_argument("--prompt", required=True)
    history.add_argument("--provider", default="langfuse")
    history.add_argument("--format", choices=("table", "json", "csv"), default="table")
    history.add_argument("--table")
    history.set_defaults(run=_history)

    verify = commands.add_parser("verify", help="check a prompt's audit hash chain and its anchored head")
    which = verify.add_mutually_exclusive_group(required=True)
    which.add_argument("--prompt")
    which.add_argument("--all", action="store_true", help="every prompt in the ledger or the anchor bucket")
    verify.add_argument("--provider", default="langfuse")
    verify.add_argument("--table")
    verify.add_argument(
        "--anchor-bucket", help="Object Lock bucket with the chain heads (ANCHOR_BUCKET_NAME)"
    )
    verify.set_defaults(run=_verify)


def _add_adopt_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    adopt = commands.add_parser("adopt", help="record production as the registry shows it (once, at install)")
    adopt.add_argument("--prompt", required=True)
    adopt.add_argument("--provider", choices=("langfuse",), default="langfuse")
    adopt.add_argument("--actor", type=_not_blank, help="who is adopting the prompt (shown in the audit)")
    adopt.add_argument("--format", choices=("text", "json"), default="text")
    adopt.add_argument("--table")
    adopt.set_defaults(run=_adopt)


def _add_postmortem_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    postmortem = commands.add_parser(
        "postmortem", help="a postmortem draft of one rollback, for a person to finish"
    )
    postmortem.add_argument("rollback_id", metavar="ROLLBACK_ID", help="as shown in Slack and in `audit`")
    postmortem.add_argument("--format", choices=("markdown", "json"), default="markdown")
    postmortem.add_argument("--table")
    postmortem.set_defaults(run=_postmortem)


def _add_rollback_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rollback = commands.add_parser("rollback", help="force a rollback now")
    rollback.add_argument("--prompt", required=True)
    rollback.add_argument("--to", type=int, help="target version (default: the policy's choice)")
    rollback.add_argument(
        "--from", dest="from_version", type=int, help="only if production is still this version"
    )
    rollback.add_argument("--reason", required=True, type=_not_blank)
    rollback.add_argument(
        "--actor", required=True, type=_not_blank, help="who is forcing it (shown in Slack and the audit)"
    )
    rollback.add_argument("--provider", default="langfuse")
    rollback.add_argument(
        "--target",
        action="append",
        type=_label,
        metavar="LABEL=VALUE",
        help="bedrock: the pointer, e.g. --target prompt_parameter=/prompts/support/production (repeatable)",
    )
    rollback.add_argument("--dry-run", action="store_true")
    rollback.add_argument(
        "--allow-forward", action="store_true", help="let --to name a version newer than production"
    )
    rollback.add_argument("--request-id", help="reuse to make a retry safe")
    rollback.add_argument("--function-name")
    rollback.add_argument("--in-process", action="store_true", help="run the worker here (local mode)")
    rollback.set_defaults(run=_rollback)


def _add_click_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, help_text in (
        ("undo", "move production back to the version a rollback moved away from"),
        ("approve", "approve a proposed rollback (approval mode)"),
        ("reject", "reject a proposed rollback (approval mode)"),
    ):
        click = commands.add_parser(name, help=help_text)
        click.add_argument("--prompt", required=True)
        click.add_argument("--provider", default="langfuse")
        click.add_argument("--rollback-id", required=True, help="as shown in Slack and in `audit`")
        click.add_argument(
            "--actor", required=True, help="your Slack user id (U…): an approver of the prompt in the policy"
        )
        click.add_argument("--function-name")
        click.add_argument("--in-process", action="store_true", help="run the worker here (local mode)")
        click.set_defaults(run=_click)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="prompt-rollback",
        description=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_reading_commands(commands)
    _add_adopt_command(commands)
    _add_postmortem_command(commands)
    _add_rollback_command(commands)
    _add_click_commands(commands)
    from prompt_rollback.rollout.cli import add_commands as add_rollout_commands

    add_rollout_commands(commands, _invoke_worker, _label)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
