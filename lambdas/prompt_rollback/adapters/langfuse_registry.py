"""Langfuse as the prompt registry, through the official `langfuse` SDK's generated REST client.
`LangfuseAPI` retries 429, 408, 409 and 5xx by itself (its waits capped here, as Slack's are) and,
unlike `Langfuse()`, starts no tracing threads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from prompt_rollback import deadline
from prompt_rollback.domain.policy import RegistryState
from prompt_rollback.domain.retry_after import retry_after_seconds
from prompt_rollback.domain.rollout_split import candidate_share, share_label
from prompt_rollback.errors import NotFound, RegistryRejected, RegistryUnavailable
from prompt_rollback.ports import PromptRef, RolloutPointer

if TYPE_CHECKING:
    from prompt_rollback.domain.postmortem import VersionRecord

PRODUCTION_LABEL = "production"
_RETRYABLE_STATUS = frozenset({408, 409, 429})
# The SDK waits whatever Retry-After asks, up to 60 s, before each of its retries: longer than a
# worker's record may take. A longer Retry-After fails the call at once (retryable: SQS delivers
# the message again after its visibility timeout, by when the limit is over).
MAX_WAIT_SECONDS = 5.0
# The SDK's own backoff without a Retry-After: 1 s, then 2 s (±10 %).
LONGEST_BACKOFF_SECONDS = 2.2


class _WaitRefused(Exception):
    """A retry the SDK is about to wait for would wait too long, or past the deadline."""


def _refuse_long_waits(max_wait_seconds: float) -> Callable[[httpx.Response], None]:
    """An httpx response hook: it sees every answer before the SDK decides to sleep and retry."""

    def check(response: httpx.Response) -> None:
        status = response.status_code
        if status < 500 and status not in _RETRYABLE_STATUS:
            return
        asked = retry_after_seconds(response.headers, datetime.now(UTC))
        if asked is not None and asked > max_wait_seconds:
            raise _WaitRefused(
                f"HTTP {status}, Retry-After {asked:g} s is over the {max_wait_seconds:g} s cap"
            )
        wait, left = (LONGEST_BACKOFF_SECONDS if asked is None else asked), deadline.seconds_left()
        if left is not None and wait >= left:
            raise _WaitRefused(f"HTTP {status}, and no time left before the record's deadline to retry")

    return check


def _path_segment(prompt_name: str) -> str:
    # The SDK puts the name into the URL path as is; a folder name like "team/answer" must
    # travel as one segment ("team%2Fanswer"), as the Langfuse API documents.
    return quote(prompt_name, safe="")


class LangfuseRegistry:
    provider = "langfuse"

    def __init__(
        self,
        host: str,
        public_key: str,
        secret_key: str,
        timeout_seconds: float = 10.0,
        max_retries: int = 2,
        max_wait_seconds: float = MAX_WAIT_SECONDS,
    ) -> None:
        # Imported here, not at module level: langfuse/__init__.py loads its OpenTelemetry tracing stack,
        # which the webhook function and a worker rolling back a Bedrock pointer never need. The import is
        # the ordinary one, so the asset installs langfuse with all its dependencies (requirements.txt).
        from langfuse.api.client import LangfuseAPI
        from langfuse.api.core.api_error import ApiError

        self._api_error: type[Exception] = ApiError
        self._api: LangfuseAPI = LangfuseAPI(
            base_url=host.rstrip("/"),
            username=public_key,
            password=secret_key,
            timeout=timeout_seconds,
            x_langfuse_sdk_name="prompt-rollback",
            httpx_client=httpx.Client(
                timeout=timeout_seconds,
                follow_redirects=True,
                event_hooks={"response": [_refuse_long_waits(max_wait_seconds)]},
            ),
        )
        self._timeout_seconds = timeout_seconds
        self._max_retries = max_retries

    @property
    def _request_options(self) -> Any:
        """Per call: no request may outlast the deadline of the record being handled."""
        left = deadline.seconds_left()
        timeout = self._timeout_seconds if left is None else min(self._timeout_seconds, left)
        return {"max_retries": self._max_retries, "timeout_in_seconds": timeout}

    def _call(self, what: str, call: Any) -> Any:
        left = deadline.seconds_left()
        if left is not None and left <= 0:
            raise RegistryUnavailable(f"Langfuse {what}: the record's deadline has passed")
        try:
            return call()
        except _WaitRefused as refused:
            raise RegistryUnavailable(f"Langfuse {what}: {refused}") from refused
        except self._api_error as error:
            status = getattr(error, "status_code", None) or 0
            if status == 404:
                raise NotFound(f"Langfuse {what}: HTTP 404") from error
            if status >= 500 or status in _RETRYABLE_STATUS:
                raise RegistryUnavailable(f"Langfuse {what}: HTTP {status}") from error
            raise RegistryRejected(f"Langfuse {what}: HTTP {status}") from error
        except httpx.HTTPError as error:
            raise RegistryUnavailable(f"Langfuse {what}: {type(error).__name__}") from error

    def _holding(self, prompt_name: str, label: str, what: str) -> Any | None:
        """The version that holds `label`, or None when none does (Langfuse answers 404)."""
        try:
            return self._call(
                what,
                lambda: self._api.prompts.get(
                    _path_segment(prompt_name), label=label, request_options=self._request_options
                ),
            )
        except NotFound:
            return None

    def read_production(self, ref: PromptRef) -> int | None:
        """One GET of the production label (read_state takes two: the list, then this)."""
        prompt = self._holding(ref.name, PRODUCTION_LABEL, "get production")
        return None if prompt is None else int(prompt.version)

    def read_version(self, ref: PromptRef, version: int) -> VersionRecord:
        """One version's commit message and labels, and the gate's verdict when its config holds one."""
        # Only `prompt-rollback postmortem` reads a version's record: a rollback never loads the draft.
        from prompt_rollback.domain.postmortem import VersionRecord, gate_verdict

        prompt = self._call(
            "get version",
            lambda: self._api.prompts.get(
                _path_segment(ref.name), version=version, request_options=self._request_options
            ),
        )
        config = prompt.config if isinstance(prompt.config, dict) else None
        return VersionRecord(
            version=int(prompt.version),
            commit_message=prompt.commit_message or None,
            gate_verdict=gate_verdict(config),
            labels=tuple(str(label) for label in prompt.labels or ()),
        )

    def list_versions(self, ref: PromptRef) -> frozenset[int]:
        prompt_name = ref.name
        listing = self._call(
            "list versions",
            lambda: self._api.prompts.list(name=prompt_name, limit=50, request_options=self._request_options),
        )
        return frozenset(v for meta in listing.data if meta.name == prompt_name for v in meta.versions)

    def read_state(self, ref: PromptRef) -> RegistryState:
        versions = self.list_versions(ref)
        if not versions:
            return RegistryState(production_version=None, versions=versions)
        production = self.read_production(ref)
        return RegistryState(production_version=production, versions=versions)

    def move_production(self, ref: PromptRef, version: int) -> str:
        return self.move_and_read_back(ref, version)[0]

    def move_and_read_back(self, ref: PromptRef, version: int) -> tuple[str, int | None]:
        """One PATCH: its answer is the version it labelled. A label lives on one version at a
        time, so that answer holding `production` is the read-back; None when it does not.
        A version that does not exist answers 404 (NotFound)."""
        prompt_name = ref.name
        response = self._call(
            "move label",
            lambda: self._api.prompt_version.with_raw_response.update(
                _path_segment(prompt_name),
                version,
                new_labels=[PRODUCTION_LABEL],
                request_options=self._request_options,
            ),
        )
        moved = response.data
        holds = int(moved.version) == version and PRODUCTION_LABEL in (moved.labels or [])
        return str(response.headers.get("x-request-id", "") or ""), (version if holds else None)

    # ---- progressive delivery (domain/rollout_split.py): labels added, never removed -----------
    def read_rollout(self, ref: PromptRef, candidate_label: str) -> RolloutPointer:
        """Production, the versions, and the version holding the candidate label with its share."""
        state = self.read_state(ref)
        candidate = self._holding(ref.name, candidate_label, "get candidate")
        if candidate is None:
            return RolloutPointer(state.production_version, state.versions, None, 0)
        share = candidate_share(candidate.labels, candidate_label)
        return RolloutPointer(state.production_version, state.versions, int(candidate.version), share)

    def _add_labels(self, ref: PromptRef, version: int, labels: list[str]) -> None:
        self._call(
            "add labels",
            lambda: self._api.prompt_version.update(
                _path_segment(ref.name), version, new_labels=labels, request_options=self._request_options
            ),
        )

    def split(self, ref: PromptRef, stable: int, candidate: int, share: int, candidate_label: str) -> None:
        """The candidate gets the candidate label and `canary-N`; the share is the largest N it holds."""
        self._add_labels(ref, candidate, [candidate_label, share_label(share, candidate_label)])

    def unsplit(self, ref: PromptRef, stable: int, candidate_label: str) -> None:
        """The candidate label moves onto stable: both arms are stable, whatever `canary-N` it holds."""
        self._add_labels(ref, stable, [candidate_label])
