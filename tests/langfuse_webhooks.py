"""Langfuse prompt-version webhooks built the way the Langfuse server builds them.

From langfuse/langfuse worker/src/queues/webhooks.ts: the body is JSON.stringify of
`{id, timestamp, type, apiVersion, action, user?, prompt}` (prompt last, no whitespace), and
`x-langfuse-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">` keyed with the
whole secret string, `lf-whsec_` prefix included (packages/shared/src/encryption/signature.ts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

SECRET = "lf-whsec_" + "5f" * 32


def js_date(moment: datetime) -> str:
    """JavaScript's Date.toISOString(): milliseconds and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def prompt_event(
    event_id: str,
    name: str,
    version: int,
    labels: list[str],
    action: str = "updated",
    changed_at: datetime | None = None,
    user: dict[str, Any] | None = None,
    commit_message: str | None = None,
) -> dict[str, Any]:
    moment = changed_at or datetime.now(UTC)
    body: dict[str, Any] = {
        "id": event_id,
        "timestamp": js_date(datetime.now(UTC)),
        "type": "prompt-version",
        "apiVersion": "v1",
        "action": action,
    }
    if user is not None:
        body["user"] = user
    body["prompt"] = {
        "id": f"cm{version:06d}{name[:8]}",
        "name": name,
        "version": version,
        "projectId": "proj-7e1c",
        "labels": labels,
        "prompt": f"You are the {name} assistant (v{version}).",
        "type": "text",
        "config": {"model": "gpt-4o", "temperature": 0.2},
        "commitMessage": commit_message,
        "tags": [],
        "createdAt": js_date(moment),
        "updatedAt": js_date(moment),
    }
    return body


def serialize(event: dict[str, Any]) -> bytes:
    """JSON.stringify: no spaces, keys in insertion order, non-ASCII kept as UTF-8 (a lone
    surrogate, which UTF-8 cannot carry, escaped as \\uXXXX as JSON.stringify does)."""
    text = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(event, separators=(",", ":"), ensure_ascii=True).encode()


def sign(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"
