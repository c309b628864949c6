"""The `langfuse` SDK's REST client (`LangfuseAPI`) that measurements are read through: basic auth
with the project's keys, the caller named in `x-langfuse-sdk-name`, one timeout per request."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langfuse.api.client import LangfuseAPI


def langfuse_api(
    host: str, public_key: str, secret_key: str, *, sdk_name: str, timeout_seconds: float
) -> LangfuseAPI:
    # Imported here: langfuse/__init__.py loads an OpenTelemetry stack that only readers need.
    from langfuse.api.client import LangfuseAPI

    return LangfuseAPI(
        base_url=host.rstrip("/"),
        username=public_key,
        password=secret_key,
        x_langfuse_public_key=public_key,
        x_langfuse_sdk_name=sdk_name,
        timeout=timeout_seconds,
    )
