"""Guard configuration, per prompt: dry-run, allow-list, cooldown, daily maximum.

Shape (JSON in the `ROLLBACK_POLICY` environment variable; the CDK app builds it from the context
keys `dry_run`, `allowed_prompts`, `cooldown_minutes`, `max_rollbacks_per_day`, `prompt_overrides`):

    {"dry_run": false, "allowed_prompts": ["*"], "cooldown_minutes": 30,
     "max_rollbacks_per_day": 3,
     "prompts": {"financial-*": {"dry_run": true, "cooldown_minutes": 120}}}

`allowed_prompts` and the keys of `prompts` are shell-style patterns (fnmatch); the first
matching key of `prompts` (in the order written) overrides the defaults for that prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class Guards:
    dry_run: bool
    cooldown: timedelta
    max_rollbacks_per_day: int


MAX_COOLDOWN_MINUTES = 7 * 24 * 60
MAX_ROLLBACKS_PER_DAY = 1000


class PromptOverrides(BaseModel):
    """Per-prompt-pattern overrides of the defaults below (the `prompts` object)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dry_run: bool | None = None
    cooldown_minutes: int | None = Field(default=None, ge=0, le=MAX_COOLDOWN_MINUTES)
    max_rollbacks_per_day: int | None = Field(default=None, ge=0, le=MAX_ROLLBACKS_PER_DAY)


class PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dry_run: bool = False
    allowed_prompts: list[str] = Field(default_factory=lambda: ["*"])
    cooldown_minutes: int = Field(default=30, ge=0, le=MAX_COOLDOWN_MINUTES)
    max_rollbacks_per_day: int = Field(default=3, ge=0, le=MAX_ROLLBACKS_PER_DAY)
    prompts: dict[str, PromptOverrides] = Field(default_factory=dict)

    def allows(self, prompt_name: str) -> bool:
        return any(fnmatchcase(prompt_name, pattern) for pattern in self.allowed_prompts)

    def guards_for(self, prompt_name: str) -> Guards:
        override = next(
            (o for pattern, o in self.prompts.items() if fnmatchcase(prompt_name, pattern)),
            PromptOverrides(),
        )
        return Guards(
            dry_run=self.dry_run if override.dry_run is None else override.dry_run,
            cooldown=timedelta(
                minutes=self.cooldown_minutes
                if override.cooldown_minutes is None
                else override.cooldown_minutes
            ),
            max_rollbacks_per_day=(
                self.max_rollbacks_per_day
                if override.max_rollbacks_per_day is None
                else override.max_rollbacks_per_day
            ),
        )
