"""`rollout_prompt`: the Langfuse prompt a unit should be served, stable or candidate, with its arm.
Both versions come through the SDK's `get_prompt`, so its cache does the caching (60 s by default)."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prompt_rollout.split import Arm, candidate_share, random_arm, unit_arm

if TYPE_CHECKING:
    from langfuse import Langfuse
    from langfuse.model import PromptClient

STABLE_LABEL = "production"
CANDIDATE_LABEL = "canary"
# The SDK's own default (LANGFUSE_PROMPT_CACHE_DEFAULT_TTL_SECONDS); used for the absent candidate.
DEFAULT_CACHE_TTL_SECONDS = 60

logger = logging.getLogger("prompt_rollout")


@dataclass(frozen=True)
class RolloutPrompt:
    """The prompt to serve. `prompt` is the SDK's prompt object (link it to your generations);
    `arm` says stable or candidate, `share` the candidate's percent (0: no rollout) and `sticky`
    whether a unit id decided the arm (False: a random draw for this request only)."""

    prompt: PromptClient
    arm: Arm
    share: int
    sticky: bool
    candidate_version: int | None

    @property
    def name(self) -> str:
        return self.prompt.name

    @property
    def version(self) -> int:
        return self.prompt.version

    def compile(self, **variables: Any) -> Any:
        """The SDK prompt's `compile`: the text (or chat messages) with the variables filled in."""
        return self.prompt.compile(**variables)


def _cache_owner(langfuse: Langfuse) -> Any:
    # The SDK keeps one prompt cache per project, in the resources every client of that project
    # shares (`get_client()` hands out a new client object per call); the absences live beside it.
    return getattr(langfuse, "_resources", None) or langfuse


class _AbsentCandidates:
    """Prompts without a candidate, remembered for one cache TTL per project: the SDK caches prompts
    but not a 404, and most prompts are not rolling out most of the time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], float]] = (
            weakref.WeakKeyDictionary()
        )

    def known(self, langfuse: Langfuse, name: str, label: str) -> bool:
        with self._lock:
            return self._until.get(_cache_owner(langfuse), {}).get((name, label), 0.0) > time.monotonic()

    def remember(self, langfuse: Langfuse, name: str, label: str, ttl_seconds: int) -> None:
        with self._lock:
            self._until.setdefault(_cache_owner(langfuse), {})[(name, label)] = time.monotonic() + ttl_seconds


_absent = _AbsentCandidates()


def _status(error: Exception) -> int | None:
    status = getattr(error, "status_code", None)
    return status if isinstance(status, int) else None


def _candidate(langfuse: Langfuse, name: str, label: str, ttl_seconds: int | None) -> PromptClient | None:
    if _absent.known(langfuse, name, label):
        return None
    try:
        # No retries: the SDK retries every error, a 404 too, a second apart; stable is the safe answer.
        return langfuse.get_prompt(name, label=label, cache_ttl_seconds=ttl_seconds, max_retries=0)
    except Exception as error:
        ttl = DEFAULT_CACHE_TTL_SECONDS if ttl_seconds is None else ttl_seconds
        if _status(error) == 404:
            if ttl > 0:
                _absent.remember(langfuse, name, label, ttl)
            return None
        logger.warning("serving stable: the candidate of %r could not be read (%s)", name, error)
        return None


def rollout_prompt(
    langfuse: Langfuse,
    name: str,
    *,
    unit: str | None = None,
    candidate_label: str = CANDIDATE_LABEL,
    stable_label: str = STABLE_LABEL,
    cache_ttl_seconds: int | None = None,
) -> RolloutPrompt:
    """The prompt `unit` (a user or session id) should be served: the candidate (label `canary`) for
    the units its share draws, `production` for the rest. Without a unit, a random draw per request.
    Raises what `get_prompt` raises when the stable prompt cannot be read."""
    stable = langfuse.get_prompt(name, label=stable_label, cache_ttl_seconds=cache_ttl_seconds)
    candidate = _candidate(langfuse, name, candidate_label, cache_ttl_seconds)
    sticky = bool(unit)
    # An aborted rollout moves the candidate label onto the stable version: no split.
    if candidate is None or candidate.version == stable.version:
        return RolloutPrompt(stable, "stable", 0, sticky, None)
    share = candidate_share(candidate.labels, candidate_label)
    arm = unit_arm(name, candidate.version, unit, share) if unit else random_arm(share)
    return RolloutPrompt(candidate if arm == "candidate" else stable, arm, share, sticky, candidate.version)
