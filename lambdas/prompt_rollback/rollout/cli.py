"""`prompt-rollback rollout …`: start, status, list, promote, abort, pause, resume, approve, reject.
Each invokes the worker (or runs it in-process) with a rollout command; `--plan` is read here (YAML)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

InvokeWorker = Callable[[argparse.Namespace, dict[str, Any]], dict[str, Any]]
COMMANDS = ("start", "status", "list", "promote", "abort", "pause", "resume", "approve", "reject")


def _plan(path: str | None) -> dict[str, Any] | None:
    if not path:
        return None
    import yaml  # type: ignore[import-untyped]  # the operator reads YAML; the worker gets JSON

    loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise SystemExit(f"{path}: a plan is a mapping with `steps`")
    return loaded


def payload(args: argparse.Namespace) -> dict[str, Any]:
    command: dict[str, Any] = {
        "command": args.rollout_command,
        "prompt_name": args.prompt,
        "provider": args.provider,
        "actor": args.actor,
    }
    if getattr(args, "version", None) is not None:
        command["version"] = args.version
    if getattr(args, "plan", None):
        command["plan"] = _plan(args.plan)
    if getattr(args, "full", False):
        command["full"] = True
    if getattr(args, "step", None) is not None:
        command["step"] = args.step
    if getattr(args, "target", None):
        command["target"] = dict(args.target)
    return {"rollout": command}


def _table(result: dict[str, Any]) -> str:
    if "error" in result:
        return f"error: {result['error']}"
    lines = [f"{result.get('outcome', '')}: {result.get('answer', '')}"]
    views = result.get("rollouts") or ([result["rollout"]] if result.get("rollout") else [])
    for view in views:
        lines.append(
            f"{view['rollout_id']}  {view['prompt']}  v{view['candidate']} over v{view['stable']}  "
            f"{view['state']}  {view['share']} %  step {view['step']}  {view['waiting_for']}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace, invoke: InvokeWorker) -> int:
    result = invoke(args, payload(args))
    if args.format == "json":
        body = result.get("rollout", result) if args.rollout_command == "status" else result
        print(json.dumps(body, indent=2))
    else:
        print(_table(result))
    return 1 if result.get("outcome") in ("error", "refused") or "error" in result else 0


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    invoke: InvokeWorker,
    label: Callable[[str], tuple[str, str]],
) -> None:
    rollout = commands.add_parser(
        "rollout", help="progressive delivery of a prompt version (docs/rollout.md)"
    )
    actions = rollout.add_subparsers(dest="rollout_command", required=True)
    for name in COMMANDS:
        action = actions.add_parser(name)
        action.add_argument("--prompt", required=True)
        action.add_argument("--provider", default="langfuse", choices=("langfuse", "bedrock"))
        action.add_argument("--actor", default="cli", help="who is doing it (the audit, the approvers list)")
        action.add_argument("--format", choices=("table", "json"), default="table")
        action.add_argument("--function-name")
        action.add_argument("--in-process", action="store_true", help="run the worker here (local mode)")
        action.add_argument("--target", action="append", type=label, metavar="LABEL=VALUE")
        if name == "start":
            action.add_argument("--version", type=int, required=True, help="the candidate version")
            action.add_argument("--plan", help="a plan file (YAML); default: the prompt's plan")
        if name == "promote":
            action.add_argument("--full", action="store_true", help="straight to 100 %")
        if name in ("approve", "reject"):
            action.add_argument("--step", type=int, help="the checkpoint (default: the current step)")
        action.set_defaults(run=lambda args: run(args, invoke))
