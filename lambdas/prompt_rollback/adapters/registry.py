"""The prompt-registry port: read where production points, move it, and the errors that matter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from prompt_rollback.domain.policy import RegistryState


@dataclass(frozen=True)
class PromptRef:
    """Which production pointer: the prompt's name plus provider-specific coordinates
    (for Bedrock: agent + alias, flow + alias, or the SSM parameter holding a prompt-version ARN)."""

    name: str
    target: Mapping[str, str] = field(default_factory=dict)


class RegistryError(Exception):
    """The registry could not do what was asked."""

    retryable = False


class RegistryUnavailable(RegistryError):
    """Down, timing out, throttling or answering 5xx after the client's own retries: try later."""

    retryable = True


class RegistryRejected(RegistryError):
    """The registry said no in a way a retry will not change (404, 400, 401/403)."""


class NotFound(RegistryRejected):
    """The prompt, the version or the label does not exist."""


class PromptRegistry(Protocol):
    provider: str

    def read_state(self, ref: PromptRef) -> RegistryState:
        """Which version holds production now, and which versions exist."""
        ...

    def move_production(self, ref: PromptRef, version: int) -> str:
        """Point production at `version`; return the registry's request id (or "" if it has none)."""
        ...
