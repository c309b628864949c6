"""Composition root of the watcher function: its settings and adapters, each built once.

Kept apart from wiring.py (the webhook's and the worker's) so the watcher loads only what it
uses; it shares the AWS client configuration and the rollback queue with them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters

from prompt_rollback import wiring
from prompt_rollback.adapters.watch_state_store import DynamoDBWatchStateStore
from prompt_rollback.domain.watch_config import WatcherConfig
from prompt_rollback.watch_ports import Observer
from prompt_rollback.watch_run import IntakeSignalSender

# Per request; the measurement code turns the SDK's own retries off and a run is at most a few
# calls, so the function's 2-minute timeout covers a slow Langfuse.
LANGFUSE_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class LangfuseCredentials:
    host: str
    public_key: str
    secret_key: str


def utc_now() -> datetime:
    return datetime.now(UTC)


@cache
def watcher_config() -> WatcherConfig:
    try:
        return WatcherConfig.model_validate_json(os.environ.get("WATCHER_CONFIG") or "{}")
    except ValueError as error:
        raise wiring.ConfigurationError(f"WATCHER_CONFIG is invalid: {error}") from error


def langfuse_credentials() -> LangfuseCredentials:
    """From the Langfuse secret (deployed) or LANGFUSE_HOST/_PUBLIC_KEY/_SECRET_KEY (local)."""
    secret_name = os.environ.get("LANGFUSE_SECRET_NAME", "")
    if secret_name:
        data: Any = parameters.get_secret(secret_name, transform="json", max_age=wiring.SECRET_CACHE_SECONDS)
        try:
            return LangfuseCredentials(data["host"], data["public_key"], data["secret_key"])
        except (KeyError, TypeError) as error:
            raise wiring.ConfigurationError(
                f"secret {secret_name} must be JSON with host, public_key and secret_key"
            ) from error
    return LangfuseCredentials(
        os.environ.get("LANGFUSE_HOST", "https://cloud.langfuse.com"),
        wiring.required_setting("LANGFUSE_PUBLIC_KEY"),
        wiring.required_setting("LANGFUSE_SECRET_KEY"),
    )


@cache
def state_store() -> DynamoDBWatchStateStore:
    table_name = wiring.required_setting("WATCH_STATE_TABLE_NAME")
    return DynamoDBWatchStateStore(
        boto3.resource("dynamodb", config=wiring.AWS_CLIENT_CONFIG).Table(table_name)
    )


@cache
def signal_sender() -> IntakeSignalSender:
    return IntakeSignalSender(wiring.rollback_queue(), utc_now)


@cache
def observer() -> Observer:
    from prompt_rollback.adapters.langfuse_registry import rest_client_module
    from prompt_rollback.adapters.langfuse_watch_observer import LangfuseWatchObserver

    # The SDK's REST client without langfuse/__init__.py (its tracing stack is not in the
    # asset), loaded the way the worker's registry loads it.
    credentials = langfuse_credentials()
    api = rest_client_module("client").LangfuseAPI(
        base_url=credentials.host.rstrip("/"),
        username=credentials.public_key,
        password=credentials.secret_key,
        x_langfuse_public_key=credentials.public_key,
        x_langfuse_sdk_name="prompt-rollback-watcher",
        timeout=LANGFUSE_TIMEOUT_SECONDS,
    )
    return LangfuseWatchObserver(
        api, watcher_config(), api_error=rest_client_module("core.api_error").ApiError
    )


def reset() -> None:
    for factory in (watcher_config, state_store, signal_sender, observer):
        factory.cache_clear()
