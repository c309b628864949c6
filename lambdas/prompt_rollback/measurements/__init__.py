"""Measurements of prompt versions from Langfuse's metrics API, for the exporter and the watcher:
a constant number of grouped queries (plus a prompts-list page per 100 prompts in production, and
per 100 holding the rollout candidate's label when that is read)."""

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
