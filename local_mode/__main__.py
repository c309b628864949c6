"""`python -m local_mode`: run prompt-rollback on 127.0.0.1 (see README)."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
from pathlib import Path

from local_mode.loopback import PortInUse
from local_mode.service import DEMO_TOKEN, LocalService, LocalSettings
from local_mode.traffic_file import TrafficError, TrafficFile, load_traffic


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_mode", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8080")), help="port of /alerts and the rest"
    )
    parser.add_argument(
        "--aws-port",
        type=int,
        default=int(os.environ.get("LOCAL_AWS_PORT", "4566")),
        help="port of the embedded moto server (ignored when AWS_ENDPOINT_URL is set)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("WEBHOOK_TOKEN", DEMO_TOKEN),
        help="Bearer token Alertmanager must send",
    )
    parser.add_argument("--verbose", action="store_true", help="show the handlers' structured logs")
    parser.add_argument(
        "--watch-every",
        type=float,
        default=float(os.environ.get("WATCH_EVERY_SECONDS") or 0) or None,
        metavar="SECONDS",
        help="run the watcher (Langfuse regressions, no Prometheus) every SECONDS, e.g. 15",
    )
    parser.add_argument(
        "--traffic",
        metavar="FILE",
        help="simulate traffic through the rollout client: a YAML file, or `demo` (docs/rollout.md)",
    )
    parser.add_argument(
        "--step-seconds",
        type=float,
        metavar="S",
        help="with --traffic: rollout steps of S seconds (at least 1), ticked every S seconds",
    )
    args = parser.parse_args()
    if args.step_seconds is not None and not args.traffic:
        parser.error("--step-seconds needs --traffic (the requests a step is judged on)")
    if args.step_seconds is not None and not 1 <= args.step_seconds <= 3600:
        parser.error("--step-seconds must be between 1 and 3600")
    return args


def _traffic(source: str | None) -> TrafficFile | None:
    """The traffic file, read before anything starts: a bad one exits 2 having changed nothing."""
    if not source:
        return None
    try:
        return load_traffic(source)
    except TrafficError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def _slack(service: LocalService) -> str:
    if os.environ.get("SLACK_BOT_TOKEN"):
        where = (
            "embedded Web API, messages printed here with their buttons and a curl line per button"
            if service.slack_api
            else os.environ["SLACK_API_BASE_URL"]
        )
        return f"app mode ({where}); clicks: POST {service.url}/slack/actions"
    if os.environ.get("SLACK_WEBHOOK_URL"):
        return "SLACK_WEBHOOK_URL"
    return "printed here (SLACK_WEBHOOK_URL not set)"


def _pagerduty(service: LocalService) -> str:
    if service.pagerduty:
        return f"{service.pagerduty.url} (embedded Events API v2; events printed here)"
    return os.environ.get("PAGERDUTY_EVENTS_URL") or "not configured (PAGERDUTY_ROUTING_KEY not set)"


def _banner(service: LocalService, args: argparse.Namespace) -> str:
    """What is running where, and the commands to try it with."""
    assert service.resources is not None
    langfuse = (
        service.langfuse.url
        + " (embedded, demo prompt 'support-answer' v7 in production; its exact match fell vs v6)"
        if service.langfuse
        else os.environ["LANGFUSE_HOST"]
    )
    slack, pagerduty = _slack(service), _pagerduty(service)
    watching = (
        f"every {args.watch_every:g}s: the demo's v7 regression rolls back by itself in about a minute"
        if args.watch_every
        else "off (--watch-every 15, or WATCH_EVERY_SECONDS=15 make run)"
    )
    # The embedded store's demo key is printed; a real Langfuse's secret key never is.
    langfuse_secret = service.langfuse.secret_key if service.langfuse else "<your LANGFUSE_SECRET_KEY>"
    # The console script installed beside this interpreter (make builds .venv with the project in it).
    cli = Path(sys.executable).with_name("prompt-rollback")
    traffic, rollouts = _traffic_lines(service, args), _rollout_commands(service, cli)
    return f"""
prompt-rollback local mode
  webhook   POST {service.url}/alerts   (Authorization: Bearer {args.token})
  Langfuse webhooks  POST {service.url}/langfuse/events   (x-langfuse-signature, LANGFUSE_WEBHOOK_SECRET)
  AWS       {os.environ["AWS_ENDPOINT_URL"]}{" (embedded moto)" if service.moto else ""}
  Langfuse  {langfuse}
  Slack     {slack}
  PagerDuty {pagerduty}
  Watcher   {watching}{traffic}

Fire the demo alert (support-answer v7 regressed; the worker rolls it back to v6):
  curl -sS -H 'Authorization: Bearer {args.token}' -H 'Content-Type: application/json' \\
       --data @examples/alert-firing.json {service.url}/alerts
Then move production by hand to v5 (the embedded store sends its signed webhooks here):
  curl -sS -u {os.environ["LANGFUSE_PUBLIC_KEY"]}:{langfuse_secret} -X PATCH \\
       -H 'Content-Type: application/json' --data '{{"newLabels":["production"]}}' \\
       {os.environ["LANGFUSE_HOST"]}/api/public/v2/prompts/support-answer/versions/5
The CLI (another terminal) needs these settings: AWS_* and AUDIT_TABLE_NAME for audit and verify,
and also IDEMPOTENCY_TABLE_NAME and LANGFUSE_* for rollback --in-process:
  export AWS_ENDPOINT_URL={os.environ["AWS_ENDPOINT_URL"]} AWS_ACCESS_KEY_ID=local \\
    AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1 \\
    AUDIT_TABLE_NAME={service.resources.audit_table} \\
    IDEMPOTENCY_TABLE_NAME={service.resources.idempotency_table} \\
    LANGFUSE_HOST={os.environ["LANGFUSE_HOST"]} LANGFUSE_PUBLIC_KEY={os.environ["LANGFUSE_PUBLIC_KEY"]} \\
    LANGFUSE_SECRET_KEY={langfuse_secret}{_slack_app_settings(service)}{_rollout_settings()}
  {cli} audit --prompt support-answer      # changes and decisions, who/when/why
  {cli} history --prompt support-answer    # who held production when
  {cli} rollback --prompt support-answer --to 4 \\
    --reason drill --actor you@example.com --in-process   # a forced rollback from v5{rollouts}
Ctrl-C stops.
"""


def _traffic_lines(service: LocalService, args: argparse.Namespace) -> str:
    """The simulated traffic, the rollout plan, and the commands that roll out the file's candidates."""
    if service.traffic is None or args.traffic is None:
        return ""
    lines = [f"\n  Traffic   {line}" for line in service.traffic.describe()]
    if service.created_versions:
        lines.append(f"\n            created: {', '.join(service.created_versions)}")
    steps = (
        f"steps and ticks of {args.step_seconds:g} s (ROLLOUT_PLANS), approvals at 5 % (sre) and 50 % "
        "(product-owner); the Slack user U0LOCALDEV may approve both"
        if args.step_seconds
        else "the default plan; ticks every tick_interval"
    )
    lines.append(f"\n  Rollouts  {steps}; each step printed as [rollout]")
    return "".join(lines)


def _rollout_commands(service: LocalService, cli: Path) -> str:
    """With --traffic: the command that rolls out each prompt's newest version in the file."""
    traffic = service.settings.traffic
    if traffic is None:
        return ""
    return "".join(
        f"\n  {cli} rollout start --prompt {name} --version {max(prompt.versions)} --actor you --in-process"
        for name, prompt in traffic.prompts.items()
    )


def _rollout_settings() -> str:
    """--step-seconds: the CLI's in-process worker starts rollouts with the same fast plan."""
    plans = os.environ.get("ROLLOUT_PLANS")
    return f" \\\n    ROLLOUT_PLANS={shlex.quote(plans)}" if plans else ""


def _slack_app_settings(service: LocalService) -> str:
    """App mode: the CLI's in-process worker updates the incident message as a click does, so it
    needs the same Slack settings (without them it would print a webhook-style message)."""
    if not os.environ.get("SLACK_BOT_TOKEN"):
        return ""
    # The embedded Slack accepts the token it was started with; a real one is never printed.
    token = os.environ["SLACK_BOT_TOKEN"] if service.slack_api else "<your SLACK_BOT_TOKEN>"
    return (
        f" \\\n    SLACK_BOT_TOKEN={token} SLACK_API_BASE_URL={os.environ['SLACK_API_BASE_URL']} "
        f"SLACK_CHANNEL={os.environ.get('SLACK_CHANNEL', '')} \\\n"
        f"    ROLLBACK_POLICY={shlex.quote(os.environ.get('ROLLBACK_POLICY', ''))}"
    )


def _other_port_hint(busy: PortInUse, args: argparse.Namespace) -> str:
    """Which option picks another port for the server that could not start."""
    if busy.port == args.aws_port and not os.environ.get("AWS_ENDPOINT_URL"):
        return (
            "the embedded AWS takes another with --aws-port PORT (or LOCAL_AWS_PORT), "
            f"e.g. --aws-port {busy.port + 1}"
        )
    return f"the webhook takes another with --port PORT (or PORT), e.g. --port {busy.port + 1}"


def main() -> None:
    args = _arguments()
    try:
        service = LocalService(
            LocalSettings(
                host=args.host,
                port=args.port,
                aws_port=args.aws_port,
                webhook_token=args.token,
                verbose=args.verbose,
                watch_every_seconds=args.watch_every,
                traffic=_traffic(args.traffic),
                step_seconds=args.step_seconds,
            )
        ).start()
    except PortInUse as busy:
        sys.exit(f"error: {busy}; {_other_port_hint(busy, args)}")
    except TrafficError as error:  # the file does not fit the store: nothing was created
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(_banner(service, args), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()


if __name__ == "__main__":
    main()
