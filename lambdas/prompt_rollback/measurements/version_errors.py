"""One prompt version's generations and errors over a window: the watcher's `levels` query
(the error_rate trigger's numbers), narrowed to one prompt; one Langfuse call."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from prompt_rollback.measurements.collect import _observations_by_level, _Reader
from prompt_rollback.measurements.queries import refresh_queries
from prompt_rollback.measurements.records import MeasurementSettings

if TYPE_CHECKING:
    from langfuse.api.client import LangfuseAPI

ERROR_LEVEL = "ERROR"


def version_errors(
    api: LangfuseAPI, settings: MeasurementSettings, prompt_name: str, version: int, now: datetime
) -> tuple[int, int]:
    """(errors, generations) of `prompt_name` v`version` over `settings.observation_window`
    ending at `now`; MeasurementError when Langfuse fails."""
    levels = refresh_queries(settings)[0]
    # The exporter's own reader (its error translation), asked about one prompt only.
    rows = _Reader(api, settings, now, None)._query(replace(levels, purpose="recovery"), [prompt_name])
    by_level = _observations_by_level(rows).get((prompt_name, version), {})
    return by_level.get(ERROR_LEVEL, 0), sum(by_level.values())
