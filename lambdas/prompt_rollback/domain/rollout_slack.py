"""A rollout's one Slack message, as Block Kit: each step with its share, both arms' numbers, what it
waits for, and at a checkpoint the Approve, Abort and Promote full buttons for the step's approvers.
Pure; every name that came from people is escaped. Button values carry the rollout id only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prompt_rollback.domain.mrkdwn import escape_text
from prompt_rollback.domain.rollout_state import Rollout

# The buttons' action ids (POST /slack/actions routes the `rollout_` family to the rollout feature).
ROLLOUT_APPROVE, ROLLOUT_ABORT, ROLLOUT_PROMOTE_FULL = (
    "rollout_approve",
    "rollout_abort",
    "rollout_promote_full",
)
ROLLOUT_ACTIONS = frozenset({ROLLOUT_APPROVE, ROLLOUT_ABORT, ROLLOUT_PROMOTE_FULL})
_SLACK_USER = ("U", "W")
_STATE_WORDS = {
    "progressing": ":hourglass_flowing_sand: progressing",
    "waiting_approval": ":raised_hand: waiting for approval",
    "paused": ":double_vertical_bar: paused",
    "baking": ":bread: baking at 100 %",
    "promoted": ":white_check_mark: promoted",
    "aborted": ":no_entry: aborted",
}
_METRIC_NAMES = {
    "error_rate": "errors",
    "exact_match": "exact match",
    "judge_score": "judge",
    "latency_p99": "P99",
}


def _number(value: Any) -> float | None:
    """Stored numbers are text (rollout_record.py); absent or unreadable is None."""
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _value(metric: str, value: Any) -> str:
    number = _number(value)
    if number is None:
        return "n/a"
    return f"{number:,.0f} ms" if metric == "latency_p99" else f"{number:.2%}"


def _who(approver: str) -> str:
    """A Slack user id is mentioned (a validated id: safe mrkdwn); any other name is shown as text."""
    if approver[:1] in _SLACK_USER and approver.isalnum() and approver.isupper() and len(approver) <= 21:
        return f"<@{approver}>"
    return escape_text(approver, 80)


def _steps_line(rollout: Rollout) -> str:
    """`✓ 5 % → *25 %* → 50 % (approval) → 100 %`: done, current (bold), and the checkpoints."""
    finished = rollout.status in ("baking", "promoted")
    shown = []
    for index, step in enumerate(rollout.plan.steps):
        text = f"{step.share} %" + (" (approval)" if step.approval is not None else "")
        if index < rollout.step or finished:
            text = ":white_check_mark: " + text
        elif index == rollout.step and rollout.status != "aborted":
            text = f"*{text}*"
        shown.append(text)
    return " → ".join(shown)


def _analysis_lines(analysis: Mapping[str, Any]) -> list[str]:
    lines = []
    for metric in analysis.get("metrics") or []:
        name = str(metric.get("metric", ""))
        worse = " :warning:" if metric.get("worse") in (True, "True") else ""
        shown = _METRIC_NAMES.get(name, escape_text(name, 40))
        lines.append(
            f"• {shown}: canary {_value(name, metric.get('canary'))} "
            f"(n={metric.get('canary_samples', 0)}) vs stable {_value(name, metric.get('stable'))} "
            f"(n={metric.get('stable_samples', 0)}){worse}"
        )
    for name, (value, samples) in (analysis.get("bake") or {}).items():
        lines.append(f"• bake {escape_text(str(name), 40)}: {_value(str(name), value)} (n={samples})")
    return lines


def rollout_buttons(rollout: Rollout) -> list[dict[str, Any]]:
    """Approve, Abort and Promote full while a checkpoint waits; none otherwise."""
    if rollout.status != "waiting_approval":
        return []
    buttons = (
        (ROLLOUT_APPROVE, "Approve", "primary"),
        (ROLLOUT_ABORT, "Abort", "danger"),
        (ROLLOUT_PROMOTE_FULL, "Promote full", ""),
    )
    elements = []
    for action_id, label, style in buttons:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": label},
            "value": rollout.rollout_id,
        }
        if style:
            button["style"] = style
        elements.append(button)
    return elements


def rollout_message(rollout: Rollout, stage: str = "") -> dict[str, Any]:
    """`text` (the notification's fallback) and `blocks`: the whole rollout, as it stands."""
    name = escape_text(rollout.prompt_name, 200)
    state = _STATE_WORDS.get(rollout.status, rollout.status)
    title = f"Rollout of *{name}* v{rollout.candidate} over v{rollout.stable}: {state}, {rollout.share} %"
    where = f" ({escape_text(stage, 40)})" if stage else ""
    lines = [
        f"*Steps*: {_steps_line(rollout)}",
        f"*Started by* {escape_text(rollout.started_by, 180)}{where} · `{rollout.rollout_id}`",
    ]
    if rollout.plan.notes.intent:
        lines.append(f"*Intent*: {escape_text(rollout.plan.notes.intent, 300)}")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": title}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
    ]
    analysis = rollout.last_analysis or {}
    numbers = _analysis_lines(analysis)
    if numbers:
        outcome = escape_text(str(analysis.get("outcome", "")), 40)
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Analysis* ({outcome})\n" + "\n".join(numbers)},
            }
        )
    waiting = rollout.waiting_for()
    if rollout.status == "waiting_approval" and rollout.current_step.approval is not None:
        approvers = ", ".join(_who(a) for a in rollout.current_step.approval.approvers)
        waiting = f"approval by one of {approvers} to leave {rollout.share} %"
    else:
        waiting = escape_text(waiting, 1500)
    ending = waiting or escape_text(rollout.reason, 1500)
    if ending:
        label = "Waiting for" if rollout.active else "Outcome"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{label}*: {ending}"}]})
    buttons = rollout_buttons(rollout)
    if buttons:
        blocks.append({"type": "actions", "block_id": "rollout_actions", "elements": buttons})
    text = f"Rollout of {name} v{rollout.candidate}: {rollout.status}, {rollout.share} %"
    return {"text": text, "blocks": blocks}
