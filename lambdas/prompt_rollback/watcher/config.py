"""The watcher's settings (`WATCHER_CONFIG`, from the context key `watcher`, checked at synth with this
model; docs/watcher.md): which triggers apply to which prompt, with which limits. Defaults come from
detection/triggers.py, so a watcher without overrides reaches the verdicts the rules reach."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prompt_rollback.detection.triggers import TRIGGERS, Comparison, Trigger
from prompt_rollback.measurements.records import MeasurementSettings

_MEASUREMENT_DEFAULTS = MeasurementSettings()
MAX_FOR_MINUTES = 24 * 60
MAX_WINDOW_MINUTES = 24 * 60
MAX_BASELINE_DAYS = 90
ScoreName = Annotated[str, Field(min_length=1, max_length=200)]
MAX_MIN_SAMPLES = 1_000_000
PromptPattern = Annotated[str, Field(min_length=1, max_length=200)]


class TriggerOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool | None = None
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    min_samples: int | None = Field(default=None, ge=1, le=MAX_MIN_SAMPLES)
    for_minutes: int | None = Field(default=None, ge=0, le=MAX_FOR_MINUTES)


def _threshold_problem(trigger: Trigger, threshold: float) -> str | None:
    if trigger.comparison is Comparison.RATIO_ABOVE_BASELINE:
        return None if threshold > 1 else "must be a ratio above 1 (e.g. 1.5 for +50%)"
    # A drop below the baseline and a share: both are fractions of one.
    return None if 0 < threshold < 1 else "must be between 0 and 1 (exclusive)"


def _check(overrides: dict[str, TriggerOverride], where: str) -> None:
    known = {t.name: t for t in TRIGGERS}
    for name, override in overrides.items():
        if name not in known:
            raise ValueError(f"{where}: unknown trigger {name!r} (known: {', '.join(known)})")
        if override.threshold is not None:
            problem = _threshold_problem(known[name], override.threshold)
            if problem:
                raise ValueError(f"{where}.{name}.threshold {override.threshold:g} {problem}")


def _apply(trigger: Trigger, override: TriggerOverride | None) -> Trigger:
    if override is None:
        return trigger
    return replace(
        trigger,
        threshold=trigger.threshold if override.threshold is None else override.threshold,
        min_samples=trigger.min_samples if override.min_samples is None else override.min_samples,
        for_duration=(
            trigger.for_duration if override.for_minutes is None else timedelta(minutes=override.for_minutes)
        ),
    )


def _minutes(window: timedelta) -> int:
    return int(window.total_seconds() // 60)


# The measurement keys mean what the exporter's PROMPT_ROLLBACK_EXPORTER_* variables mean (the same
# MeasurementSettings). `triggers` overrides a trigger for every prompt; the first key of `prompts`
# (shell pattern, in the order written) matching a prompt name overrides it for that prompt, over `triggers`.
class WatcherConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    exact_match_score: ScoreName = _MEASUREMENT_DEFAULTS.exact_match_score
    feedback_score: ScoreName = _MEASUREMENT_DEFAULTS.feedback_score
    thumbs_down_value: float = Field(default=_MEASUREMENT_DEFAULTS.thumbs_down_value, allow_inf_nan=False)
    observation_window_minutes: int = Field(
        default=_minutes(_MEASUREMENT_DEFAULTS.observation_window), ge=1, le=MAX_WINDOW_MINUTES
    )
    score_window_minutes: int = Field(
        default=_minutes(_MEASUREMENT_DEFAULTS.score_window), ge=1, le=MAX_WINDOW_MINUTES
    )
    baseline_window_days: int = Field(
        default=_MEASUREMENT_DEFAULTS.baseline_window.days, ge=1, le=MAX_BASELINE_DAYS
    )
    environment: str | None = Field(default=None, min_length=1, max_length=200)
    triggers: dict[str, TriggerOverride] = Field(default_factory=dict)
    prompts: dict[PromptPattern, dict[str, TriggerOverride]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_triggers_and_sane_limits(self) -> WatcherConfig:
        if self.exact_match_score == self.feedback_score:
            raise ValueError("exact_match_score and feedback_score must be different Langfuse score names")
        _check(self.triggers, "triggers")
        for pattern, overrides in self.prompts.items():
            _check(overrides, f"prompts[{pattern!r}]")
        return self

    def measurement_settings(self) -> MeasurementSettings:
        """What the exporter's measurement code reads, for the watcher."""
        return MeasurementSettings(
            exact_match_score=self.exact_match_score,
            feedback_score=self.feedback_score,
            thumbs_down_value=self.thumbs_down_value,
            observation_window=timedelta(minutes=self.observation_window_minutes),
            score_window=timedelta(minutes=self.score_window_minutes),
            baseline_window=timedelta(days=self.baseline_window_days),
            environment=self.environment,
        )

    def triggers_for(self, prompt_name: str) -> tuple[Trigger, ...]:
        """The triggers that apply to `prompt_name`, with their limits after overrides."""
        per_prompt = next(
            (overrides for pattern, overrides in self.prompts.items() if fnmatchcase(prompt_name, pattern)),
            {},
        )
        applied = []
        for trigger in TRIGGERS:
            general, specific = self.triggers.get(trigger.name), per_prompt.get(trigger.name)
            enabled = next(
                (o.enabled for o in (specific, general) if o is not None and o.enabled is not None), True
            )
            if enabled:
                applied.append(_apply(_apply(trigger, general), specific))
        return tuple(applied)
