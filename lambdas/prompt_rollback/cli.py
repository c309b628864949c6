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
from prompt_rollback.domain.audit import parse_iso_utc, verify_against_anchors, verify_chain

if TYPE_CHECKING:
    from prompt_rollback.adapters.audit_store import DynamoDBAuditLedger

USAGE = """`python -m prompt_rollback.cli`: force a rollback, ask the audit trail, verify its hash chain.

    rollback --prompt support-answer --to 6 --reason "bad answers" --actor jane [--function-name NAME]
             [--provider bedrock --target bedrock_agent_id=AGENT12345 --target bedrock_alias_id=ALIAS12345]
    audit    --prompt financial-analysis --since 2026-04-17T14:00Z --until 2026-04-17T15:00Z [--version 6]
             [--format table|json|csv]
    history  --prompt financial-analysis
    verify   --prompt support-answer [--anchor-bucket BUCKET]
    undo     --prompt support-answer --rollback-id rb-… --actor U012ABCDEF   (an approver's Slack id)
    approve  --prompt financial-analysis --rollback-id rb-… --actor U012ABCDEF   (also: reject)

`audit` is one timeline of the production changes people made (Langfuse webhooks, CloudTrail)
and the decisions we made, with who, when and why. `history` is the production timeline: which
version held production from when to when, and who put it there. `audit`, `history` and
`verify` read the table named by AUDIT_TABLE_NAME (or --table) with the usual AWS credentials;
`verify` also checks the chain heads anchored in ANCHOR_BUCKET_NAME (or --anchor-bucket).
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
    prompt_key = f"{args.provider}#{args.prompt}"
    records = list(_ledger(args.table).chain(prompt_key))
    problems = verify_chain(records)
    bucket = args.anchor_bucket or os.environ.get("ANCHOR_BUCKET_NAME")
    if bucket:
        import boto3

        from prompt_rollback.adapters.chain_anchor import S3ChainAnchors

        anchors = S3ChainAnchors(boto3.client("s3"), bucket).anchors(prompt_key)
        problems += verify_against_anchors(records, anchors)
        anchored = f", head anchored at seq {max(a.seq for a in anchors)}" if anchors else ", no anchor"
    else:
        anchored = " (no anchor bucket: a cut end of the chain cannot be seen)"
        if not records:
            problems += verify_against_anchors(records, [])
    for problem in problems:
        print(f"seq {problem.seq}: {problem.problem}")
    verdict = "chain intact" if not problems else f"{len(problems)} problems"
    print(f"{len(records)} records{anchored}, {verdict}")
    return 1 if problems else 0


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
        from prompt_rollback.worker.handler import lambda_handler

        result = lambda_handler(payload, _CliContext())
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
    print(json.dumps(result, indent=2))
    return 0 if result.get("outcome") in ("undone", "approved", "rejected") else 1


def _invoke_worker(args: argparse.Namespace, payload: dict[str, Any]) -> dict[str, Any]:
    if args.in_process:
        from prompt_rollback.worker.handler import lambda_handler

        return dict(lambda_handler(payload, _CliContext()))
    import boto3

    function = args.function_name or os.environ.get("WORKER_FUNCTION_NAME")
    if not function:
        sys.exit("set WORKER_FUNCTION_NAME or pass --function-name (or --in-process for local mode)")
    response = boto3.client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    result: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
    return result


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
    verify.add_argument("--prompt", required=True)
    verify.add_argument("--provider", default="langfuse")
    verify.add_argument("--table")
    verify.add_argument(
        "--anchor-bucket", help="Object Lock bucket with the chain heads (ANCHOR_BUCKET_NAME)"
    )
    verify.set_defaults(run=_verify)


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
    _add_rollback_command(commands)
    _add_click_commands(commands)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
