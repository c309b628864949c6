"""The watcher in local mode: its state table on the local AWS endpoint, and a loop playing
EventBridge Scheduler (the real handler, invoked every few seconds instead of every 5 minutes).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from local_mode.lambda_runtime import LocalLambdaContext

# For the demo, triggers hold for one minute instead of their 5-15: with a run every 15 s the
# developer sees pending, then firing, within about a minute of `make run`.
DEMO_WATCHER_CONFIG = (
    '{"triggers": {"exact_match": {"for_minutes": 1}, "latency_p99": {"for_minutes": 1},'
    ' "error_rate": {"for_minutes": 1}, "thumbs_down": {"for_minutes": 1}}}'
)


def provision_state_table(name: str) -> str:
    """The watcher's state table as the CDK construct creates it (partition key `id`)."""
    dynamodb = boto3.client("dynamodb")
    try:
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
    dynamodb.get_waiter("table_exists").wait(TableName=name)
    return name


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class WatcherSchedule:
    """Invokes the watcher handler every `every_seconds` on a thread, as the Scheduler would."""

    def __init__(
        self, handler: Handler, every_seconds: float, report: Callable[[dict[str, Any]], None]
    ) -> None:
        self._handler = handler
        self._every = every_seconds
        self._report = report
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WatcherSchedule:
        self._thread = threading.Thread(target=self._loop, name="watcher-schedule", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run_once(self) -> dict[str, Any]:
        summary = self._handler({}, LocalLambdaContext("watcher", timeout_seconds=120))
        self._report(summary)
        return summary

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as error:  # a failed run is logged; the next one tries again
                self._report({"error": f"{type(error).__name__}: {error}"})
            self._stop.wait(self._every)


def start_watcher(
    every_seconds: float,
    one_at_a_time: Callable[[Handler], Handler],
    say: Callable[[str], None],
    prefix: str,
) -> WatcherSchedule:
    """Local mode's watcher: its table, the demo `for:` of one minute unless WATCHER_CONFIG is
    set, and the real handler on a schedule, one invocation at a time with the other handlers."""
    os.environ["WATCH_STATE_TABLE_NAME"] = provision_state_table(f"{prefix}-watch")
    os.environ.setdefault("WATCHER_CONFIG", DEMO_WATCHER_CONFIG)
    from prompt_rollback.watcher import handler as watcher
    from prompt_rollback.watcher import wiring as watch_wiring

    watch_wiring.reset()
    return WatcherSchedule(one_at_a_time(watcher.lambda_handler), every_seconds, _reporter(say)).start()


def _reporter(say: Callable[[str], None]) -> Callable[[dict[str, Any]], None]:
    """One line per run that changed something: what a developer watching the terminal wants."""
    last: dict[str, Any] = {}

    def report(summary: dict[str, Any]) -> None:
        if "error" in summary:
            say(f"[watcher] run failed: {summary['error']}")
            return
        if summary.get("no_data"):
            say(f"[watcher] no data from Langfuse, nothing changed: {summary['no_data']}")
        for what in summary.get("fired", []):
            say(f"[watcher] firing: {what} (rollback queued)")
        for what in summary.get("resolved", []):
            say(f"[watcher] resolved: {what}")
        pending = summary.get("pending", 0)
        if pending != last.get("pending", 0) and not summary.get("fired"):
            say(f"[watcher] {pending} trigger(s) pending ({summary.get('langfuse_calls')} Langfuse calls)")
        last["pending"] = pending

    return report
