"""The VersionErrors port over Langfuse's v2 metrics API, with the watcher's measurement code.
The SDK's retries are off (measurements/collect.py): a failure is NoData at once, never a wait."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from prompt_rollback.domain.recovery import ErrorCount
from prompt_rollback.measurements import MeasurementError, MeasurementSettings
from prompt_rollback.measurements.version_errors import version_errors
from prompt_rollback.ports import NoData

if TYPE_CHECKING:
    from langfuse.api.client import LangfuseAPI


class LangfuseVersionErrors:
    def __init__(self, api: LangfuseAPI, settings: MeasurementSettings | None = None) -> None:
        self._api = api
        self._settings = settings or MeasurementSettings()

    def count(
        self, prompt_name: str, version: int, environment: str, start: datetime, end: datetime
    ) -> ErrorCount:
        settings = replace(self._settings, observation_window=end - start, environment=environment or None)
        try:
            errors, generations = version_errors(self._api, settings, prompt_name, version, end)
        except MeasurementError as error:
            raise NoData(f"{type(error).__name__}: {error}") from error
        return ErrorCount(errors, generations)
