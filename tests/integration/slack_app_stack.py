"""The integration stack in Slack app mode: a bot token, a signing secret, the loopback Web API,
and signed clicks sent to POST /slack/actions as Slack sends them (form-encoded `payload=`)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from prompt_rollback import wiring
from prompt_rollback.slack import handler as slack_actions
from slack_sdk.signature import SignatureVerifier

from local_mode.lambda_runtime import LocalLambdaContext, api_gateway_event
from local_mode.slack_api_server import ChannelMessage, SlackApiServer

if TYPE_CHECKING:
    from tests.integration.conftest import Stack

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "C0ONCALL01"
APPROVER, STRANGER = "U0ALICE", "U0MALLORY"


@dataclass
class AppStack:
    stack: Stack
    slack_api: SlackApiServer

    def click(
        self,
        rollback_id: str,
        action: str,
        user: str = APPROVER,
        *,
        action_ts: str | None = None,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
        signature: str | None = None,
        body: str | None = None,
    ) -> tuple[int, dict[str, str], str]:
        """Slack's request for one button click; returns the response and what was sent."""
        payload = {
            "type": "block_actions",
            "team": {"id": "T0TEAM"},
            "user": {"id": user, "username": user.lower()},
            "api_app_id": "A0APP",
            "channel": {"id": CHANNEL, "name": "oncall"},
            "container": {"type": "message", "channel_id": CHANNEL},
            "trigger_id": "1.2.3",
            "actions": [
                {
                    "type": "button",
                    "action_id": action,
                    "block_id": "rollback_actions",
                    "value": rollback_id,
                    "action_ts": action_ts or f"{time.time():.6f}",
                }
            ],
        }
        raw = body if body is not None else urlencode({"payload": json.dumps(payload)})
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature
            if signature is not None
            else str(SignatureVerifier(secret).generate_signature(timestamp=stamp, body=raw)),
        }
        return self.send(headers, raw), headers, raw

    def send(self, headers: dict[str, str], raw: str) -> int:
        result = slack_actions.lambda_handler(
            api_gateway_event("POST", "/slack/actions", headers, raw.encode()), LocalLambdaContext("actions")
        )
        return int(result["statusCode"])

    def incident(self) -> ChannelMessage:
        [message] = self.slack_api.top_level(CHANNEL)
        return message

    def rolled_back(self, firing_body: dict[str, Any], prompt: str = "support-answer") -> str:
        """Post the firing alert and run the worker: support-answer v7 -> v6; the rollback id."""
        assert self.stack.post(firing_body)[0] == 202
        self.stack.drain()
        [decision] = self.stack.decisions(prompt)
        assert decision["outcome"] == "rolled_back" and self.stack.production(prompt) == 6
        return str(decision["request_id"])


def reset_app_wiring() -> None:
    wiring.reset()


def set_policy(app: AppStack, **policy: Any) -> None:
    app.stack.monkeypatch.setenv("ROLLBACK_POLICY", json.dumps(policy))
    reset_app_wiring()
