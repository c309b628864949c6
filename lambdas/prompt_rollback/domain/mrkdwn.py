"""Untrusted text made safe for Slack mrkdwn, for the Slack adapters and the interaction service
alike: shown as text, never acted on as a mention, a link or formatting."""

from __future__ import annotations

import re

_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)


def escape_text(text: str, limit: int = 500) -> str:
    """Escape untrusted text for Slack mrkdwn: no mentions, no links, no formatting tricks."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else "\ufffd" for ch in text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # Bare @channel/@here are only honoured with link_names, but a zero-width joiner makes sure.
    return _BROADCAST.sub(lambda m: "@\u2060" + m.group(1), text)
