"""Composition of the watcher: its triggers, its state table, the Langfuse observer and the
signal sender, each built once; the AWS clients, Langfuse credentials and queue are shared."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache

import boto3

from prompt_rollback import wiring
from prompt_rollback.adapters.watch_state_store import DynamoDBWatchStateStore
from prompt_rollback.errors import ConfigurationError
from prompt_rollback.ports import Observer
from prompt_rollback.watcher.config import WatcherConfig
from prompt_rollback.watcher.service import IntakeSignalSender

STATE_TABLE_VARIABLE = "WATCH_STATE_TABLE_NAME"
CONFIG_VARIABLE = "WATCHER_CONFIG"
LEDGER_VARIABLE = "AUDIT_TABLE_NAME"


def utc_now() -> datetime:
    return datetime.now(UTC)


@cache
def watcher_config() -> WatcherConfig:
    try:
        return WatcherConfig.model_validate_json(os.environ.get(CONFIG_VARIABLE) or "{}")
    except ValueError as error:
        raise ConfigurationError(CONFIG_VARIABLE, f"is invalid: {error}") from error


@cache
def state_store() -> DynamoDBWatchStateStore:
    table_name = os.environ.get(STATE_TABLE_VARIABLE, "").strip()
    if not table_name:
        raise ConfigurationError(STATE_TABLE_VARIABLE, "is not set")
    return DynamoDBWatchStateStore(
        boto3.resource("dynamodb", config=wiring.AWS_CLIENT_CONFIG).Table(table_name)
    )


@cache
def signal_sender() -> IntakeSignalSender:
    return IntakeSignalSender(wiring.rollback_queue(), utc_now)


@cache
def observer() -> Observer:
    from prompt_rollback.watcher.observer import LangfuseWatchObserver

    # LANGFUSE_TIMEOUT_SECONDS per request, as the worker's; the measurement code turns the SDK's
    # retries off, so a run is at most a few such waits within its 2-minute timeout.
    api = wiring.langfuse_metrics_api(sdk_name="prompt-rollback-watcher")
    has_ledger = bool(os.environ.get(LEDGER_VARIABLE, "").strip())
    return LangfuseWatchObserver(api, watcher_config(), ledger_previous_production if has_ledger else None)


def ledger_previous_production(prompt_name: str, version: int) -> int | None:
    """The version `version` replaced in production, as the audit ledger knows it (None: unknown,
    or the ledger could not be read: the baseline is then the highest lower version, and says so)."""
    try:
        # The head's guard summary holds the prompt's whole history of moves, not its newest records.
        guards = wiring.audit_ledger().head(f"langfuse#{prompt_name}").guards
    except Exception:  # a ledger hiccup must not stop the watch
        return None
    return guards.previous_production(version)


def reset() -> None:
    for factory in (watcher_config, state_store, signal_sender, observer):
        factory.cache_clear()


wiring.on_reset(reset)
