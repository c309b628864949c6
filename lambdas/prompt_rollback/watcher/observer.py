"""The watcher's view of Langfuse: the exporter's measurement code (7 calls for up to 100 prompts,
no rollout page), then the triggers. Any Langfuse failure (429, 5xx, timeout, rejected query) is
NoData: the run decides nothing, which the handler logs and counts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from prompt_rollback.measurements import MeasurementError, measure
from prompt_rollback.measurements.collect import PreviousProduction
from prompt_rollback.ports import NoData, Observed
from prompt_rollback.watcher.config import WatcherConfig
from prompt_rollback.watcher.evaluation import observations

if TYPE_CHECKING:
    from langfuse.api.client import LangfuseAPI


class LangfuseWatchObserver:
    def __init__(
        self, api: LangfuseAPI, config: WatcherConfig, previous_production: PreviousProduction | None = None
    ) -> None:
        self._api = api
        self._config = config
        self._settings = config.measurement_settings()
        # The ledger's word on the version each production version replaced: the baseline.
        self._previous_production = previous_production

    def observe(self, now: datetime) -> Observed:
        calls: list[str] = []
        try:
            measurements = measure(
                self._api,
                self._settings,
                now,
                on_call=lambda *_: calls.append(""),
                previous_production=self._previous_production,
            )
        except MeasurementError as error:
            raise NoData(f"{type(error).__name__}: {error} (after {len(calls)} Langfuse calls)") from error
        found = observations(measurements, self._config.triggers_for, self._config.environment or "")
        return Observed(observations=found, langfuse_calls=measurements.api_calls)
