"""Langfuse's webhook signature: `x-langfuse-signature: t=<unix seconds>,v1=<hex>`.
HMAC-SHA256 keyed with the whole `lf-whsec_...` secret over `"{t}.{raw body}"`. Pure: the clock is
passed in; the handler calls `verify` on the raw bytes before it parses anything."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta

HEADER = "x-langfuse-signature"
# Langfuse signs once per delivery job and its four attempts reuse the header, with
# exponential backoff of seconds; five minutes covers them and bounds a captured request's life.
TOLERANCE = timedelta(minutes=5)
_MAX_HEADER_LENGTH = 1024


class SignatureRejected(Exception):
    """The request is not provably from Langfuse: answer 401 and touch nothing."""


def signature(body: bytes, timestamp: int, secret: str) -> str:
    """The hex HMAC Langfuse computes for `body` sent at `timestamp`."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(body: bytes, timestamp: int, secret: str) -> str:
    """The header value as the Langfuse server writes it (used by the local Langfuse-compatible store)."""
    return f"t={timestamp},v1={signature(body, timestamp, secret)}"


# Parsed by key, in any order: one of Langfuse's docs examples shows another order, and any
# `v1=` entry may match (room for a second one during a rotation). Server side: langfuse/langfuse
# packages/shared/src/encryption/signature.ts and worker/src/queues/webhooks.ts.
def _parse(header: str) -> tuple[int, list[str]]:
    if not header:
        raise SignatureRejected(f"missing {HEADER} header")
    if len(header) > _MAX_HEADER_LENGTH:
        raise SignatureRejected(f"{HEADER} header too long")
    timestamps: list[str] = []
    candidates: list[str] = []
    for part in header.split(","):
        key, separator, value = part.strip().partition("=")
        if not separator:
            continue
        if key.strip() == "t":
            timestamps.append(value.strip())
        elif key.strip() == "v1":
            candidates.append(value.strip().lower())
    if len(timestamps) != 1 or not timestamps[0].isdigit() or len(timestamps[0]) > 12:
        raise SignatureRejected(f"{HEADER} header has no single t=<unix seconds>")
    if not candidates:
        raise SignatureRejected(f"{HEADER} header has no v1=<hex> signature")
    return int(timestamps[0]), candidates


def verify(header: str | None, body: bytes, secrets: Sequence[str], now: datetime) -> int:
    """Check `header` against `body` with any of `secrets`; return the signed timestamp or raise.

    Several secrets because a rotation has two valid ones for a while. Every candidate is compared
    in constant time, and the timestamp is checked before the HMAC so an old capture is cheap to refuse.
    """
    timestamp, candidates = _parse((header or "").strip())
    age = now.timestamp() - timestamp
    if abs(age) > TOLERANCE.total_seconds():
        raise SignatureRejected(f"{HEADER} timestamp is more than {TOLERANCE} away from now")
    usable = [secret for secret in secrets if secret]
    if not usable:
        raise SignatureRejected("no webhook secret configured")
    matched = False
    for secret in usable:
        expected = signature(body, timestamp, secret).encode()
        for candidate in candidates:
            # No early exit: the time taken does not tell which secret or entry matched.
            matched |= hmac.compare_digest(expected, candidate.encode())
    if not matched:
        raise SignatureRejected(f"{HEADER} does not match the body")
    return timestamp
