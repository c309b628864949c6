"""The Slack Web API methods the app uses, on loopback, for the real slack_sdk WebClient (`base_url`).
Local mode embeds it given a bot token but no Slack API base URL; the tests drive the app notifier
against it and see what each channel shows: its messages, their current blocks, their threads."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl
from wsgiref.types import StartResponse, WSGIEnvironment

from local_mode.loopback import LoopbackServer

BOT_TOKEN = "xoxb-test-0000-bot-token"  # noqa: S105 - a demo token for a loopback server


@dataclass
class ChannelMessage:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    updates: int = 0
    history: list[list[dict[str, Any]]] = field(default_factory=list)  # blocks before each update

    def buttons(self) -> list[dict[str, Any]]:
        return [
            element
            for block in self.blocks
            if block.get("type") == "actions"
            for element in block.get("elements", [])
        ]


@dataclass
class Ephemeral:
    channel: str
    user: str
    text: str


# Slack's published contract (docs.slack.dev/reference/methods/...): POST /api/<method> with
# `Authorization: Bearer <token>` and a JSON or form body; 200 with {"ok": true, ...} or
# {"ok": false, "error": "<code>"}; 429 with Retry-After when rate limited.
class SlackApiServer:
    def __init__(
        self,
        token: str = BOT_TOKEN,
        host: str = "127.0.0.1",
        on_message: Callable[[ChannelMessage], None] | None = None,
    ) -> None:
        self.token = token
        self._on_message = on_message  # called after each post and update (local mode prints it)
        self.messages: list[ChannelMessage] = []  # top-level messages and thread replies, in order
        self.ephemerals: list[Ephemeral] = []
        self.user_groups: dict[str, list[str]] = {}
        self.calls: list[str] = []  # every method called, in order (including failed ones)
        self._failures: dict[str, list[tuple[int, str, str | None]]] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        self._http = LoopbackServer(self._app, host, 0, name="slack-web-api")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http.port}/api/"

    # ---- arranging -------------------------------------------------------------------------
    def fail_next(
        self, method: str, status: int = 200, error: str = "", retry_after: str | None = None
    ) -> None:
        """The next call of `method` answers HTTP `status` (429 + Retry-After) or ok=false `error`."""
        with self._lock:
            self._failures.setdefault(method, []).append((status, error, retry_after))

    # ---- looking ---------------------------------------------------------------------------
    def top_level(self, channel: str | None = None) -> list[ChannelMessage]:
        return [m for m in self.messages if not m.thread_ts and (channel is None or m.channel == channel)]

    def thread(self, ts: str) -> list[ChannelMessage]:
        return [m for m in self.messages if m.thread_ts == ts]

    # ---- the API ---------------------------------------------------------------------------
    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("PATH_INFO", "")).removeprefix("/api/")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length).decode()
        content_type = str(environ.get("CONTENT_TYPE", ""))
        args: dict[str, Any] = dict(parse_qsl(str(environ.get("QUERY_STRING", ""))))
        args.update(json.loads(raw or "{}") if "json" in content_type else dict(parse_qsl(raw)))
        with self._lock:
            self.calls.append(method)
            queued = self._failures.get(method)
            failure = queued.pop(0) if queued else None
        if failure is not None:
            status, error, retry_after = failure
            if status == 429:
                headers = [("Content-Type", "application/json")]
                if retry_after is not None:
                    headers.append(("Retry-After", retry_after))
                start_response("429 Too Many Requests", headers)
                return [json.dumps({"ok": False, "error": "ratelimited"}).encode()]
            return self._answer(start_response, {"ok": False, "error": error or "internal_error"}, status)
        if environ.get("HTTP_AUTHORIZATION") != f"Bearer {self.token}":
            return self._answer(start_response, {"ok": False, "error": "invalid_auth"})
        handler = {
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "usergroups.users.list": self._usergroup_users,
            "conversations.history": self._history,
        }.get(method)
        if handler is None:
            return self._answer(start_response, {"ok": False, "error": "unknown_method"}, 404)
        with self._lock:
            answer = handler(args)
            changed = self._changed(method, answer)
        if changed is not None and self._on_message is not None:
            self._on_message(changed)
        return self._answer(start_response, answer)

    def _changed(self, method: str, answer: dict[str, Any]) -> ChannelMessage | None:
        if not answer.get("ok") or method not in ("chat.postMessage", "chat.update"):
            return None
        return next((m for m in self.messages if m.ts == answer.get("ts")), None)

    @staticmethod
    def _answer(start_response: StartResponse, body: dict[str, Any], status: int = 200) -> Iterable[bytes]:
        start_response(
            f"{status} {'OK' if status == 200 else 'Error'}", [("Content-Type", "application/json")]
        )
        return [json.dumps(body).encode()]

    @staticmethod
    def _blocks(args: dict[str, Any]) -> list[dict[str, Any]]:
        blocks = args.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    @staticmethod
    def _metadata(args: dict[str, Any]) -> dict[str, Any]:
        metadata = args.get("metadata") or {}
        return json.loads(metadata) if isinstance(metadata, str) else dict(metadata)

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages of a channel, newest first; metadata only with include_all_metadata."""
        channel = str(args.get("channel") or "")
        oldest = float(args.get("oldest") or 0)
        limit = min(int(args.get("limit") or 100), 999)
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        found = [
            m
            for m in reversed(self.messages)
            if m.channel == channel and not m.thread_ts and float(m.ts) > oldest
        ]
        return {
            "ok": True,
            "messages": [
                {
                    "type": "message",
                    "ts": m.ts,
                    "text": m.text,
                    **({"metadata": m.metadata} if with_metadata else {}),
                }
                for m in found[:limit]
            ],
            "has_more": len(found) > limit,
        }

    def _next_ts(self) -> str:
        """Slack's ts: epoch seconds and a per-channel sequence, unique and ordered."""
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        thread_ts = str(args.get("thread_ts") or "")
        if thread_ts and not any(m.ts == thread_ts and m.channel == channel for m in self.messages):
            return {"ok": False, "error": "thread_not_found"}
        ts = self._next_ts()
        message = ChannelMessage(
            channel, ts, str(args.get("text") or ""), self._blocks(args), thread_ts, self._metadata(args)
        )
        self.messages.append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": {"text": message.text, "ts": ts}}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(args.get("channel") or ""), str(args.get("ts") or "")
        found = next((m for m in self.messages if m.channel == channel and m.ts == ts), None)
        if found is None:
            return {"ok": False, "error": "message_not_found"}
        found.history.append(found.blocks)
        found.text, found.blocks = str(args.get("text") or ""), self._blocks(args)
        found.metadata = self._metadata(args) or found.metadata
        found.updates += 1
        return {"ok": True, "channel": channel, "ts": ts, "text": found.text}

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, user = str(args.get("channel") or ""), str(args.get("user") or "")
        if not channel or not user:
            return {"ok": False, "error": "user_not_in_channel"}
        self.ephemerals.append(Ephemeral(channel, user, str(args.get("text") or "")))
        return {"ok": True, "message_ts": self._next_ts()}

    def _usergroup_users(self, args: dict[str, Any]) -> dict[str, Any]:
        group = str(args.get("usergroup") or "")
        if group not in self.user_groups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.user_groups[group])}

    def start(self) -> SlackApiServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()
