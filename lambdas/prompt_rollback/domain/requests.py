"""Rollback requests: what the webhook enqueues and the worker (or an on-call engineer) asks for."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prompt_rollback.domain.prompt_names import PromptName
from prompt_rollback.domain.provenance import Provenance
from prompt_rollback.domain.times import WireTime

SUPPORTED_PROVIDERS = ("langfuse", "bedrock")
Provider = Literal["langfuse", "bedrock"]

# Every text a request carries comes from an alert (untrusted) or a person; it is cut to these
# lengths, in characters, before it is stored. They keep one request well inside an SQS message
# and an audit record inside DynamoDB's 400 KB item, whatever the alert held.
MAX_REASON_LENGTH = 2000
MAX_NAME_LENGTH = 200
MAX_URL_LENGTH = 2048
MAX_LABEL_NAME_LENGTH = 128
MAX_LABEL_VALUE_LENGTH = 1024
# All kept labels together (names + values); labels beyond it are dropped and counted.
MAX_LABELS_CHARS = 8192
# Langfuse stores a version as a 32-bit integer; anything longer is not a version number.
MAX_VERSION = 2**31 - 1
CUT_MARK = "…"


def cut(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start and a visible mark of the cut."""
    return text if len(text) <= limit else text[: limit - len(CUT_MARK)] + CUT_MARK


def cut_labels(labels: dict[str, str], first: tuple[str, ...] = ()) -> tuple[dict[str, str], int]:
    """The labels that fit MAX_LABELS_CHARS, each name and value cut, and how many were left out.

    The labels named in `first` are kept before the others (in name order), so the ones that say
    what to roll back survive a flood of others."""
    kept: dict[str, str] = {}
    used = 0
    ordered = [name for name in first if name in labels] + sorted(n for n in labels if n not in first)
    for name in ordered:
        short_name, value = cut(name, MAX_LABEL_NAME_LENGTH), cut(labels[name], MAX_LABEL_VALUE_LENGTH)
        if short_name in kept or used + len(short_name) + len(value) > MAX_LABELS_CHARS:
            continue
        kept[short_name] = value
        used += len(short_name) + len(value)
    return kept, len(labels) - len(kept)


def version_number(text: str) -> int | None:
    """A version label (ASCII digits, surrounding spaces allowed) as a number, or None.

    The length is bounded before `int()`: Python refuses to convert more than 4,300 digits, and
    no version is longer than MAX_VERSION anyway. Leading zeros do not count."""
    digits = text.strip()
    if not digits.isascii() or not digits.isdigit():
        return None
    significant = digits.lstrip("0")
    if len(significant) > len(str(MAX_VERSION)):
        return None
    number = int(significant or "0")
    return number if 1 <= number <= MAX_VERSION else None


class Trigger(BaseModel):
    """The alert that asked for a rollback, for Slack and the audit trail; long text is cut."""

    # defer_build: a function imports many more models than it validates; each is built when first used.
    model_config = ConfigDict(frozen=True, defer_build=True)

    alertname: str = Field(default="", max_length=MAX_NAME_LENGTH)
    fingerprint: str = Field(max_length=64)
    group_key: str = Field(default="", max_length=MAX_URL_LENGTH)
    starts_at: WireTime
    labels: dict[str, str] = Field(default_factory=dict)
    # How many of the alert's labels were left out to keep `labels` within MAX_LABELS_CHARS.
    labels_cut: int = Field(default=0, ge=0)
    summary: str = Field(default="", max_length=MAX_REASON_LENGTH)
    generator_url: str = Field(default="", max_length=MAX_URL_LENGTH)
    runbook_url: str = Field(default="", max_length=MAX_URL_LENGTH)
    external_url: str = Field(default="", max_length=MAX_URL_LENGTH)


class RollbackRequest(BaseModel):
    """One unit of work for the worker. `request_id` is also the rollback id shown everywhere."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    # Read when a producer writes it, never written: the deployed workers take requests untagged.
    message_type: Literal["rollback_request"] = Field(default="rollback_request", exclude=True)
    request_id: str = Field(pattern=r"^[A-Za-z0-9_\-:.]{1,128}$")
    provider: Provider = "langfuse"
    prompt_name: PromptName
    alerted_version: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    rollback_to: int | None = Field(default=None, ge=1, le=MAX_VERSION)
    environment: str = Field(default="", max_length=MAX_NAME_LENGTH)
    actor: str = Field(default="alertmanager", min_length=1, max_length=MAX_NAME_LENGTH)
    reason: str = Field(default="", max_length=MAX_REASON_LENGTH)
    forced: bool = False
    # Only with `forced`: lets `rollback_to` name a version newer than production.
    allow_forward: bool = False
    dry_run: bool | None = None
    trigger: Trigger | None = None
    received_at: WireTime
    provider_target: dict[str, str] = Field(default_factory=dict)
    # A click in Slack: the incident's message, updated in place instead of posting another.
    slack_channel: str = Field(default="", max_length=40)
    slack_ts: str = Field(default="", max_length=40)
    # Only on a person's move, built inside the worker (slack/service.py); never queued, and the
    # worker refuses a queued request that carries one (worker/provenance.py).
    provenance: Provenance | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _forward_only_when_forced(self) -> RollbackRequest:
        if self.allow_forward and not self.forced:
            raise ValueError("allow_forward is only for a forced rollback")
        return self

    @property
    def prompt_key(self) -> str:
        return f"{self.provider}#{self.prompt_name}"

    @property
    def mode(self) -> Literal["automatic", "manual"]:
        return "manual" if self.forced else "automatic"


def alert_request_id(provider: str, prompt_name: str, fingerprint: str, starts_at: datetime) -> str:
    """Deterministic id of one firing of one alert: every re-delivery maps to the same id."""
    material = "\x1f".join((provider, prompt_name, fingerprint, starts_at.isoformat()))
    return "rb-" + hashlib.sha256(material.encode()).hexdigest()[:24]


def message_group_id(provider: str, prompt_name: str) -> str:
    """SQS FIFO group: one prompt's requests are processed one at a time, in order.

    Hashed because group ids allow only a restricted character set of at most 128 characters.
    """
    return hashlib.sha256(f"{provider}\x1f{prompt_name}".encode()).hexdigest()
