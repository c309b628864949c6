"""Slack app mode: one message per incident through the Web API, updated in place, with buttons.
slack_sdk's WebClient does the HTTP, the JSON and the rate limits; this file says which method to
call with which blocks (adapters/slack.py's). Like the webhook notifier, nothing here raises."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import WebClient

from prompt_rollback.adapters.slack import SECTION_TEXT_LIMIT, build_message
from prompt_rollback.adapters.slack_webhook import CappedRateLimitRetryHandler
from prompt_rollback.ports import RollbackNotice, SlackOutcome

SLACK_API_BASE_URL = "https://slack.com/api/"
# Every incident message carries its rollback id as Slack message metadata, so a retry that does
# not know the message's ts yet (the ledger refused the write that would have stored it) finds
# the message in the channel's recent history and updates it instead of posting a second one.
METADATA_EVENT_TYPE = "prompt_rollback_incident"
ROLLOUT_EVENT_TYPE = "prompt_rollback_rollout"
HISTORY_LOOKBACK = timedelta(days=4)  # the queue's retention: no retry comes later than that
HISTORY_PAGE = 200
# What a button does: the action_id Slack sends back with the click.
APPROVE, REJECT, UNDO = "approve", "reject", "undo"
# A button adds nothing untrusted to the message: its value is the rollback id alone.
_BUTTONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    # outcome → (action_id, label, style)
    "proposed": ((APPROVE, "Approve", "primary"), (REJECT, "Reject", "danger")),
    "rolled_back": ((UNDO, "Undo", "danger"),),
    "recovered": ((UNDO, "Undo", "danger"),),
    "recovery_overdue": ((UNDO, "Undo", "danger"),),
    "undone": ((UNDO, "Undo the undo", "danger"),),
}
_UNDO_CONFIRM = {
    "title": {"type": "plain_text", "text": "Undo this rollback?"},
    "text": {"type": "plain_text", "text": "Production moves back to the version we rolled back from."},
    "confirm": {"type": "plain_text", "text": "Undo"},
    "deny": {"type": "plain_text", "text": "Keep"},
}


def web_client(token: str, base_url: str = SLACK_API_BASE_URL, timeout_seconds: int = 5) -> WebClient:
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=timeout_seconds,
        # A chat message is not worth the worker's time: a longer Retry-After fails instead of waiting.
        retry_handlers=[
            CappedRateLimitRetryHandler(max_retry_count=2, max_wait_seconds=5.0, give_up_over_cap=True)
        ],
    )


def build_app_message(notice: RollbackNotice) -> dict[str, Any]:
    """The webhook's Block Kit message plus the buttons this state of the incident offers."""
    message = build_message(notice)
    buttons = _BUTTONS.get(notice.outcome, ())
    if buttons:
        elements: list[dict[str, Any]] = []
        for action_id, label, style in buttons:
            button: dict[str, Any] = {
                "type": "button",
                "action_id": action_id,
                "text": {"type": "plain_text", "text": label},
                "style": style,
                # Only the rollback id: the worker reads everything else from the ledger.
                "value": notice.rollback_id,
            }
            if action_id == UNDO:
                button["confirm"] = _UNDO_CONFIRM
            elements.append(button)
        message["blocks"].append({"type": "actions", "block_id": "rollback_actions", "elements": elements})
    return message


def _failure(error: Exception) -> SlackOutcome:
    if isinstance(error, SlackApiError):
        # Slack's own error code (channel_not_found, not_in_channel, …): no token, no URL in it.
        return SlackOutcome("failed", str(error.response.get("error", "slack_api_error")))
    return SlackOutcome("failed", type(error).__name__)


# A bot token lets us keep one message per incident: chat.postMessage once, chat.update after, the
# `ts` stored with the intent so a retry updates instead of posting again; replies go in its thread,
# answers to a click are private (chat.postEphemeral), approver groups expand (usergroups.users.list).
class SlackAppNotifier:
    """The Notifier of app mode, plus the thread replies and private answers only an app can send."""

    def __init__(self, client: WebClient, channel_for: Callable[[str], str]) -> None:
        self._client = client
        self._channel_for = channel_for  # prompt name → channel (the policy's, else SLACK_CHANNEL)

    def notify(self, notice: RollbackNotice) -> SlackOutcome:
        """Post the incident's message, or update it in place when its `ts` is known."""
        channel = notice.channel or self._channel_for(notice.prompt_name)
        if not channel:
            return SlackOutcome("not_configured", "no Slack channel for this prompt")
        message = build_app_message(notice)
        metadata = {"event_type": METADATA_EVENT_TYPE, "event_payload": {"rollback_id": notice.rollback_id}}
        try:
            message_ts = notice.message_ts or self._find(channel, notice)
            if message_ts:
                try:
                    response = self._client.chat_update(
                        channel=channel,
                        ts=message_ts,
                        text=message["text"],
                        blocks=message["blocks"],
                        metadata=metadata,
                    )
                    return SlackOutcome("updated", "chat.update", channel, str(response["ts"]))
                except SlackApiError as error:
                    if error.response.get("error") != "message_not_found":
                        raise
                    # Someone deleted it: people still need to hear, so post it again.
            response = self._client.chat_postMessage(
                channel=channel,
                text=message["text"],
                blocks=message["blocks"],
                unfurl_links=False,
                metadata=metadata,
            )
            return SlackOutcome("sent", "chat.postMessage", str(response["channel"]), str(response["ts"]))
        except SlackClientError as error:
            return _failure(error)
        except OSError as error:  # connection refused, timeouts: urllib's errors
            return _failure(error)

    def _find(self, channel: str, notice: RollbackNotice) -> str:
        """The ts of this rollback's message in the channel's recent history, or ""."""
        oldest = (notice.when - HISTORY_LOOKBACK).timestamp()
        try:
            response = self._client.conversations_history(
                channel=channel, oldest=f"{oldest:.6f}", limit=HISTORY_PAGE, include_all_metadata=True
            )
        except SlackApiError:
            return ""  # no history scope, or not in the channel: post, as before
        for found in response.get("messages") or []:
            metadata = found.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == METADATA_EVENT_TYPE
                and payload.get("rollback_id") == notice.rollback_id
            ):
                return str(found.get("ts", ""))
        return ""

    def announce_rollout(
        self, prompt_name: str, rollout_id: str, message: Mapping[str, Any], channel: str, ts: str
    ) -> SlackOutcome:
        """A rollout's one message: posted once, then updated in place at every change."""
        channel = channel or self._channel_for(prompt_name)
        if not channel:
            return SlackOutcome("not_configured", "no Slack channel for this prompt")
        metadata = {"event_type": ROLLOUT_EVENT_TYPE, "event_payload": {"rollout_id": rollout_id}}
        text, blocks = str(message["text"])[:SECTION_TEXT_LIMIT], list(message["blocks"])
        try:
            if ts:
                try:
                    self._client.chat_update(
                        channel=channel, ts=ts, text=text, blocks=blocks, metadata=metadata
                    )
                    return SlackOutcome("updated", "chat.update", channel, ts)
                except SlackApiError as error:
                    if error.response.get("error") != "message_not_found":
                        raise
            response = self._client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, unfurl_links=False, metadata=metadata
            )
            return SlackOutcome("sent", "chat.postMessage", str(response["channel"]), str(response["ts"]))
        except (SlackClientError, OSError) as error:
            return _failure(error)

    def reply(self, channel: str, thread_ts: str, text: str) -> SlackOutcome:
        """A follow-up in the incident's thread (recovered, overdue, needs a person).

        `text` is mrkdwn we wrote (a `<@U…>` mention of a validated user id); whatever in it
        came from an alert was put through escape_text by the caller."""
        try:
            response = self._client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text[:SECTION_TEXT_LIMIT], unfurl_links=False
            )
        except (SlackClientError, OSError) as error:
            return _failure(error)
        return SlackOutcome("sent", "thread reply", channel, str(response["ts"]))

    def tell(self, channel: str, user: str, text: str) -> SlackOutcome:
        """Only `user` sees it: the answer to a click that changes nothing ("not allowed")."""
        try:
            self._client.chat_postEphemeral(channel=channel, user=user, text=text[:SECTION_TEXT_LIMIT])
        except (SlackClientError, OSError) as error:
            return _failure(error)
        return SlackOutcome("sent", "chat.postEphemeral", channel)

    def members_of(self, user_group: str) -> frozenset[str]:
        """The user ids in an approvers' user group; empty when Slack cannot say (nobody is let in)."""
        try:
            response = self._client.usergroups_users_list(usergroup=user_group)
        except (SlackClientError, OSError):
            return frozenset()
        return frozenset(str(user) for user in response.get("users") or [])
