"""Local mode's stand-in for clicking a Slack button: a `curl` line that sends what Slack sends,
`payload=<JSON>` form-encoded and signed v0 over `v0:<timestamp>:<body>` with the signing secret."""

from __future__ import annotations

import json
import shlex
import time
from typing import Any
from urllib.parse import quote

from local_mode.slack_api_server import ChannelMessage

LOCAL_APPROVER = "U0LOCALDEV"


def click_body(rollback_id: str, action: str, user_id: str, channel: str, action_ts: str) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": "T0LOCAL"},
        "user": {"id": user_id, "username": "local-dev"},
        "channel": {"id": channel},
        "actions": [
            {
                "type": "button",
                "action_id": action,
                "block_id": "rollback_actions",
                "value": rollback_id,
                "action_ts": action_ts,
            }
        ],
    }
    # Everything outside [A-Za-z0-9_.-~] is percent-encoded: the body is safe in single quotes.
    return "payload=" + quote(json.dumps(payload, separators=(",", ":")), safe="")


# A signature is valid for 5 minutes, so the line computes it when run (openssl), not when printed:
# it can be pasted at any time, and each run is a new, non-replayed request. `action_ts` is fixed per
# printed line, so running the same line twice is a double click of the same button.
def curl_line(actions_url: str, signing_secret: str, body: str) -> str:
    hmac = f"openssl dgst -sha256 -hmac {shlex.quote(signing_secret)} -r"
    return (
        f"body={shlex.quote(body)}; ts=$(date +%s); "
        f"sig=v0=$(printf 'v0:%s:%s' \"$ts\" \"$body\" | {hmac} | cut -d' ' -f1); "
        'curl -sS -o /dev/null -w "%{http_code}\\n" -H "X-Slack-Request-Timestamp: $ts" '
        '-H "X-Slack-Signature: $sig" -H "Content-Type: application/x-www-form-urlencoded" '
        f'--data "$body" {shlex.quote(actions_url)}'
    )


def show(
    message: ChannelMessage, actions_url: str, signing_secret: str, user_id: str = LOCAL_APPROVER
) -> str:
    """The message as the channel would show it, then one ready click per button."""
    lines = ["", f"──── Slack message in {message.channel} (ts {message.ts}, updates {message.updates}) ────"]
    if message.thread_ts:
        lines[1] = f"──── Slack thread reply to {message.thread_ts} in {message.channel} ────"
        lines.append(message.text)
    for block in message.blocks:
        text: Any = block.get("text")
        if isinstance(text, dict):
            lines.append(str(text.get("text", "")))
        for element in block.get("elements", []):
            if element.get("type") == "button":
                lines.append(f"[ {element['text']['text']} ]  (clicks as {user_id}):")
                body = click_body(
                    element["value"], element["action_id"], user_id, message.channel, f"{time.time():.6f}"
                )
                lines.append("  " + curl_line(actions_url, signing_secret, body))
            elif "text" in element:
                lines.append(str(element["text"]))
    lines.append("─" * 60)
    return "\n".join(lines)
