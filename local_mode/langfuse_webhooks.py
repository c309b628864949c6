"""Prompt-version webhooks as the Langfuse server sends them (worker/src/queues/webhooks.ts in
langfuse/langfuse), for the embedded store: one signed delivery per changed prompt version, up to four
attempts with backoff, on a thread of their own so a label PATCH returns before its webhooks go."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from prompt_rollback.domain.langfuse_signature import signature_header

ATTEMPTS = 4
FIRST_BACKOFF_SECONDS = 0.1


def js_iso(moment: datetime) -> str:
    """JavaScript's Date.toISOString()."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Subscription:
    url: str
    secret: str


class WebhookSender:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._queue: queue.Queue[tuple[Subscription, bytes] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="langfuse-webhooks", daemon=True)
        self._thread.start()
        self.delivered: list[tuple[str, int]] = []  # (event id, final status), for tests

    def subscribe(self, url: str, secret: str) -> None:
        self._subscriptions.append(Subscription(url, secret))

    # Body {id, timestamp, type: "prompt-version", apiVersion: "v1", action, user?, prompt}, serialised
    # without whitespace, signed once per delivery with the whole secret string.
    def prompt_version_changed(
        self, action: str, prompt: dict[str, Any], user: dict[str, Any] | None
    ) -> None:
        for subscription in self._subscriptions:
            event: dict[str, Any] = {
                "id": f"evt_{uuid.uuid4().hex}",
                "timestamp": js_iso(datetime.now(UTC)),
                "type": "prompt-version",
                "apiVersion": "v1",
                "action": action,
            }
            if user is not None:
                event["user"] = user
            event["prompt"] = prompt  # the server puts the prompt last
            self._queue.put(
                (subscription, json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode())
            )

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued delivery has been attempted (tests, the demo, the bench);
        False when some were still waiting after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._queue.unfinished_tasks

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._deliver(*item)
            finally:
                self._queue.task_done()

    def _deliver(self, subscription: Subscription, body: bytes) -> None:
        header = signature_header(body, int(time.time()), subscription.secret)
        headers = {
            "content-type": "application/json",
            "user-agent": "Langfuse/1.0",
            "x-langfuse-signature": header,
        }
        status = 0
        for attempt in range(ATTEMPTS):
            try:
                status = requests.post(subscription.url, data=body, headers=headers, timeout=5).status_code
            except requests.RequestException:
                status = 0
            if 200 <= status < 300:
                break
            time.sleep(FIRST_BACKOFF_SECONDS * 2**attempt)
        self.delivered.append((json.loads(body)["id"], status))
