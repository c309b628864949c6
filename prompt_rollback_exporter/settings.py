"""The exporter's settings, from the environment; bad ones stop it at start with a clear message.
Langfuse's are the SDK's standard variables, the exporter's own start with `PROMPT_ROLLBACK_EXPORTER_`;
durations are Prometheus-style (`90s`, `15m`, `7d`) or seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from prompt_rollback.detection.triggers import DEFAULT_BASELINE_WINDOW
from prompt_rollback.domain.rollout_split import DEFAULT_CANDIDATE_LABEL
from prompt_rollback.measurements import MeasurementSettings
from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "PROMPT_ROLLBACK_EXPORTER_"
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_DEFAULTS = MeasurementSettings()


def parse_duration(value: Any) -> Any:
    """`15m`, `1h30m`, `7d`, `90s` or a number of seconds; anything else is left to pydantic."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return timedelta(seconds=float(text))
        match = _DURATION.fullmatch(text)
        if match and text:
            days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
            return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 15m, 1h, 7d)")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _listen(value: Any) -> Any:
    if isinstance(value, str):
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:  # 0: any free port
            raise ValueError(f"expected HOST:PORT, e.g. 0.0.0.0:9464, got {value!r}")
    return value


class ExporterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore", frozen=True)

    langfuse_host: str = Field(
        default="https://cloud.langfuse.com",
        validation_alias=AliasChoices("LANGFUSE_HOST", "LANGFUSE_BASE_URL"),
        pattern=r"^https?://[^\s/]+",
    )
    langfuse_public_key: str = Field(validation_alias="LANGFUSE_PUBLIC_KEY", min_length=1)
    langfuse_secret_key: SecretStr = Field(validation_alias="LANGFUSE_SECRET_KEY", min_length=1)

    listen: Annotated[str, BeforeValidator(_listen)] = "127.0.0.1:9464"
    refresh_interval: Duration = timedelta(seconds=60)
    request_timeout: Duration = timedelta(seconds=20)
    exact_match_score: str = Field(default=_DEFAULTS.exact_match_score, min_length=1)
    feedback_score: str = Field(default=_DEFAULTS.feedback_score, min_length=1)
    thumbs_down_value: float = _DEFAULTS.thumbs_down_value
    observation_window: Duration = _DEFAULTS.observation_window
    score_window: Duration = _DEFAULTS.score_window
    baseline_window: Duration = DEFAULT_BASELINE_WINDOW
    environment: str | None = Field(default=None, min_length=1)
    # The rollout plans' `candidate_label` (a plan's label must match it to be seen); empty: rollouts
    # are not read, which saves the prompts-list page that reads them.
    candidate_label: str = Field(default=DEFAULT_CANDIDATE_LABEL, pattern=r"^([a-z][a-z0-9_.]{0,35})?$")

    @model_validator(mode="after")
    def _consistent(self) -> ExporterSettings:
        if self.refresh_interval < timedelta(seconds=1):
            raise ValueError("refresh_interval must be at least 1s")
        for name in ("observation_window", "score_window"):
            window: timedelta = getattr(self, name)
            if window <= timedelta(0):
                raise ValueError(f"{name} must be positive")
            if self.baseline_window < window:
                raise ValueError(
                    f"baseline_window ({self.baseline_window}) is shorter than {name} ({window})"
                )
        if self.exact_match_score == self.feedback_score:
            raise ValueError("exact_match_score and feedback_score must be different Langfuse score names")
        if self.request_timeout <= timedelta(0):
            raise ValueError("request_timeout must be positive")
        return self

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def measurement_settings(self) -> MeasurementSettings:
        return MeasurementSettings(
            exact_match_score=self.exact_match_score,
            feedback_score=self.feedback_score,
            thumbs_down_value=self.thumbs_down_value,
            observation_window=self.observation_window,
            score_window=self.score_window,
            baseline_window=self.baseline_window,
            environment=self.environment,
            candidate_label=self.candidate_label or None,
        )


def describe(error: ValidationError) -> str:
    """Each problem on its own line, named by the variable to set (never echoing a secret)."""
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "settings"
        variable = field if field.startswith("LANGFUSE_") else f"{PREFIX}{field.upper()}"
        if field == "settings" or not problem["loc"]:
            variable = "settings"
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"  {variable}: {message}")
    return "invalid settings:\n" + "\n".join(lines)
