"""Slack: a Block Kit message per decision, posted to an incoming webhook.
Alert text is untrusted and escaped (`<!channel>` or a crafted link shows as text). Slack failing is
an outcome for the audit, never raised: a rollback is not undone or hidden for a chat message."""

from __future__ import annotations

import sys
from typing import IO, Any
from urllib.parse import quote, urlsplit

from prompt_rollback.domain.mrkdwn import escape_text
from prompt_rollback.domain.policy import UNKNOWN_PREVIOUS
from prompt_rollback.ports import RollbackNotice, SlackOutcome

SECTION_TEXT_LIMIT = 2900  # Slack refuses section text over 3000 characters
_OUTCOME_TITLES = {
    "rolled_back": ":rewind: Prompt rolled back",
    "dry_run": ":test_tube: Dry run: prompt would be rolled back",
    "skipped": ":double_vertical_bar: Rollback skipped",
    "failed": ":rotating_light: Rollback FAILED",
    # Slack app mode: the states one incident's message goes through (adapters/slack_app.py).
    "proposed": ":raised_hand: Rollback proposed: waiting for approval",
    "rejected": ":no_entry_sign: Rollback rejected",
    "expired": ":hourglass: Rollback proposal expired",
    "recovered": ":white_check_mark: Prompt rolled back, production recovered",
    "recovery_overdue": ":warning: Prompt rolled back, no recovery yet",
    "undone": ":leftwards_arrow_with_hook: Rollback undone",
    "needs_person": ":sos: Needs a person: not rolling back further automatically",
}


def safe_link(url: str, label: str) -> str:
    """A mrkdwn link to an http(s) URL taken from an alert, or "" if it is not one."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    # `<`, `>` and `|` end a Slack link; spaces and controls have no place in a URL.
    target = quote(url.strip(), safe=":/?#[]@!$&'()*+,;=%~-._")
    return f"<{target}|{escape_text(label, 80)}>"


def _version(version: int | None) -> str:
    return f"v{version}" if version is not None else "—"


def build_message(notice: RollbackNotice) -> dict[str, Any]:
    """The Block Kit payload for one decision."""
    title = _OUTCOME_TITLES.get(notice.outcome, notice.outcome)
    prompt = escape_text(notice.prompt_name, 200)
    versions = f"{_version(notice.from_version)} → {_version(notice.to_version)}"
    what = f"*{prompt}* ({escape_text(notice.provider, 40)}): {versions}"
    if notice.target:
        what += f"\n*Target:* {escape_text(notice.target, 300)}"
    why_parts = [f"*Why:* {escape_text(notice.reason, 1000)}"]
    if notice.alertname:
        why_parts.append(f"*Alert:* {escape_text(notice.alertname, 200)}")
    if notice.summary:
        why_parts.append(f"*Summary:* {escape_text(notice.summary, 1000)}")
    if notice.basis.startswith(UNKNOWN_PREVIOUS):
        why_parts.append(f":warning: *Target guessed:* {escape_text(notice.basis, 300)}")
    elif notice.basis:
        why_parts.append(f"*Target chosen:* {escape_text(notice.basis, 300)}")
    links = " · ".join(
        link
        for link in (safe_link(notice.generator_url, "Graph"), safe_link(notice.runbook_url, "Runbook"))
        if link
    )
    context = [
        f"*When:* {notice.when:%Y-%m-%d %H:%M:%S}Z",
        f"*Who:* {escape_text(notice.actor, 100)} ({notice.mode})",
        f"*Rollback id:* `{escape_text(notice.rollback_id, 128)}`",
    ]
    if notice.stage:
        context.append(f"*Stage:* {escape_text(notice.stage, 40)}")
    if notice.environment:
        context.append(f"*Env:* {escape_text(notice.environment, 40)}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": what[:SECTION_TEXT_LIMIT]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(why_parts)[:SECTION_TEXT_LIMIT]}},
    ]
    if links:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": links}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": c} for c in context]})
    fallback = f"{title}: {prompt} {_version(notice.from_version)} → {_version(notice.to_version)}"
    return {"text": fallback, "blocks": blocks}


class SlackWebhookNotifier:
    """Posts to a Slack incoming webhook with slack_sdk's WebhookClient (adapters/slack_webhook.py).

    slack_sdk is imported where the notifier is built, not with this module: its package import
    loads its Web API client and models too (~200 ms), which the handlers' cold start would pay
    whether or not a message is ever sent."""

    def __init__(self, webhook_url: str, timeout_seconds: int = 5, retries: int = 3) -> None:
        from prompt_rollback.adapters import slack_webhook

        self._transport = slack_webhook
        self._client = slack_webhook.webhook_client(webhook_url, timeout_seconds, retries)

    def notify(self, notice: RollbackNotice) -> SlackOutcome:
        try:
            response = self._client.send_dict(build_message(notice))
        except self._transport.SEND_ERRORS as error:
            # str(error) may carry the webhook URL, which is a secret: keep only the kind.
            return SlackOutcome("failed", self._transport.failure_kind(error))
        if 200 <= response.status_code < 300:
            return SlackOutcome("sent", f"HTTP {response.status_code}")
        return SlackOutcome("failed", f"HTTP {response.status_code}")


class ConsoleNotifier:
    """Local mode without a Slack webhook: show the message where the developer is looking."""

    def __init__(self, stream: IO[str] | None = None, status: str = "printed", channel: str = "") -> None:
        self._stream = stream
        self._status = status
        self._channel = channel  # SLACK_CHANNEL: where the message would have gone

    def notify(self, notice: RollbackNotice) -> SlackOutcome:
        stream = self._stream or sys.stdout
        message = build_message(notice)
        why = "SLACK_WEBHOOK_URL not set" if self._status == "printed" else "no usable Slack webhook URL"
        to = f" for {self._channel}" if self._channel else ""
        lines = ["", f"──── Slack message{to} ({why}) ────"]
        for block in message["blocks"]:
            if "text" in block:
                lines.append(block["text"]["text"])
            for element in block.get("elements", []):
                lines.append(element["text"])
        lines.append("───────────────────────────────────────────────────")
        stream.write("\n".join(lines) + "\n")
        stream.flush()
        return SlackOutcome(self._status, "console")
