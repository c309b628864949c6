"""Langfuse as the prompt registry, through the official `langfuse` SDK's REST client.

`langfuse.api.LangfuseAPI` is the SDK's generated client: it retries 429 (honouring
Retry-After), 408, 409 and 5xx by itself and, unlike `Langfuse()`, starts no tracing threads.

Only `langfuse.api` is loaded, and only when the adapter is built: importing it the usual way
runs `langfuse/__init__.py` first, which loads the SDK's whole tracing stack (OpenTelemetry,
protobuf) that the REST client never uses. The generated client (httpx + pydantic) imports its
own modules relatively only, so it is loaded from langfuse's folder under a private package
name without that `__init__` (`rest_client_module`). The Lambda asset installs langfuse without
its dependencies (see requirements.txt), which saves ~5 MB unzipped and ~0.2 s of cold start.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from prompt_rollback.domain.policy import RegistryState
from prompt_rollback.errors import NotFound, RegistryRejected, RegistryUnavailable
from prompt_rollback.ports import PromptRef

if TYPE_CHECKING:
    from langfuse.api.client import LangfuseAPI

PRODUCTION_LABEL = "production"
_RETRYABLE_STATUS = frozenset({408, 409, 429})
_REST_PACKAGE = "_prompt_rollback_langfuse"  # langfuse's folder, with its __init__ never run
_loading = threading.Lock()


def rest_client_module(name: str) -> ModuleType:
    """`langfuse.api.<name>` (e.g. "client", "core.api_error"), loaded without `langfuse/__init__.py`."""
    with _loading:
        if _REST_PACKAGE not in sys.modules:
            installed = importlib.util.find_spec("langfuse")  # finds the package, does not run it
            if installed is None or installed.origin is None or not installed.submodule_search_locations:
                raise ModuleNotFoundError("the langfuse package is not installed", name="langfuse")
            spec = importlib.util.spec_from_file_location(
                _REST_PACKAGE,
                installed.origin,
                submodule_search_locations=list(installed.submodule_search_locations),
            )
            assert spec is not None
            sys.modules[_REST_PACKAGE] = importlib.util.module_from_spec(spec)  # registered, not executed
        return importlib.import_module(f"{_REST_PACKAGE}.api.{name}")


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
    ) -> None:
        rest_client: type[LangfuseAPI] = rest_client_module("client").LangfuseAPI
        self._api_error: type[Exception] = rest_client_module("core.api_error").ApiError
        self._api = rest_client(
            base_url=host.rstrip("/"),
            username=public_key,
            password=secret_key,
            timeout=timeout_seconds,
            x_langfuse_sdk_name="prompt-rollback",
        )
        self._request_options: Any = {"max_retries": max_retries}

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except self._api_error as error:
            status = getattr(error, "status_code", None) or 0
            if status == 404:
                raise NotFound(f"Langfuse {what}: HTTP 404") from error
            if status >= 500 or status in _RETRYABLE_STATUS:
                raise RegistryUnavailable(f"Langfuse {what}: HTTP {status}") from error
            raise RegistryRejected(f"Langfuse {what}: HTTP {status}") from error
        except httpx.HTTPError as error:
            raise RegistryUnavailable(f"Langfuse {what}: {type(error).__name__}") from error

    def read_production(self, ref: PromptRef) -> int | None:
        """The read-back after a move: one GET of the production label (read_state takes two)."""
        try:
            prompt = self._call(
                "get production",
                lambda: self._api.prompts.get(
                    _path_segment(ref.name), label=PRODUCTION_LABEL, request_options=self._request_options
                ),
            )
        except NotFound:
            return None
        return int(prompt.version)

    def read_state(self, ref: PromptRef) -> RegistryState:
        prompt_name = ref.name
        listing = self._call(
            "list versions",
            lambda: self._api.prompts.list(name=prompt_name, limit=50, request_options=self._request_options),
        )
        versions = frozenset(v for meta in listing.data if meta.name == prompt_name for v in meta.versions)
        if not versions:
            return RegistryState(production_version=None, versions=versions)
        try:
            prompt = self._call(
                "get production",
                lambda: self._api.prompts.get(
                    _path_segment(prompt_name), label=PRODUCTION_LABEL, request_options=self._request_options
                ),
            )
        except NotFound:
            return RegistryState(production_version=None, versions=versions)
        return RegistryState(production_version=int(prompt.version), versions=versions)

    def move_production(self, ref: PromptRef, version: int) -> str:
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
        return str(response.headers.get("x-request-id", "") or "")
