"""Measurements of prompt versions from Langfuse's metrics API (used by the exporter and the watcher).

`measure(api, settings, now)` makes a constant number of grouped metrics queries (plus one
prompts-list page per 100 prompts holding `production`) and returns typed `Measurements`.
"""

from prompt_rollback.measurements.collect import measure
from prompt_rollback.measurements.errors import (
    LangfuseQueryRejected,
    LangfuseRateLimited,
    LangfuseUnavailable,
    MeasurementError,
    MetricsEndpointMissing,
)
from prompt_rollback.measurements.records import (
    BaselineValue,
    Measurements,
    MeasurementSettings,
    PromptMeasurement,
    ScoreMeasurement,
)

__all__ = [
    "BaselineValue",
    "LangfuseQueryRejected",
    "LangfuseRateLimited",
    "LangfuseUnavailable",
    "MeasurementError",
    "MeasurementSettings",
    "Measurements",
    "MetricsEndpointMissing",
    "PromptMeasurement",
    "ScoreMeasurement",
    "measure",
]
