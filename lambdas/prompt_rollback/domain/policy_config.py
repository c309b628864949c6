"""Per-prompt guards (dry run, allow-list, cooldown, daily maximum) and who is in the loop.
Read from the JSON in `ROLLBACK_POLICY` (docs/deploy.md, docs/operations.md "Guards", docs/slack-app.md);
`allowed_prompts` and the keys of `prompts` are fnmatch patterns, the first matching key wins."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from prompt_rollback.domain.recovery import RecoveryRule


@dataclass(frozen=True)
class Guards:
    dry_run: bool
    cooldown: timedelta
    max_rollbacks_per_day: int


MAX_COOLDOWN_MINUTES = 7 * 24 * 60
MAX_ROLLBACKS_PER_DAY = 1000
MAX_WINDOW_MINUTES = 7 * 24 * 60
MAX_ROLLBACK_STEPS = 10
# Slack ids: users U…/W…, user groups S…; channels by name or id (C…, G… a private one).
SLACK_USER_OR_GROUP_ID = r"^[UWS][A-Z0-9]{2,20}$"
SLACK_CHANNEL_ID_OR_NAME = r"^(#?[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{8,20})$"  # as SLACK_CHANNEL
Mode = Literal["auto", "approval"]


@dataclass(frozen=True)
class Oversight:
    """Who hears about a prompt's rollbacks and who may act on them."""

    channel: str  # "" → the deployment's default (SLACK_CHANNEL)
    mode: Mode
    approvers: tuple[str, ...]
    approval_expiry: timedelta
    recovery_window: timedelta
    max_rollback_steps: int
    recovery_rule: RecoveryRule = field(default_factory=RecoveryRule)

    @property
    def approver_users(self) -> frozenset[str]:
        return frozenset(a for a in self.approvers if not a.startswith("S"))

    @property
    def approver_groups(self) -> frozenset[str]:
        return frozenset(a for a in self.approvers if a.startswith("S"))


class PromptOverrides(BaseModel):
    """Per-prompt-pattern overrides of the defaults below (the `prompts` object)."""

    # defer_build: a function imports many more models than it validates; each is built when first used.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    dry_run: bool | None = None
    cooldown_minutes: int | None = Field(default=None, ge=0, le=MAX_COOLDOWN_MINUTES)
    max_rollbacks_per_day: int | None = Field(default=None, ge=0, le=MAX_ROLLBACKS_PER_DAY)
    channel: str | None = Field(default=None, pattern=SLACK_CHANNEL_ID_OR_NAME)
    mode: Mode | None = None
    approvers: list[Annotated[str, Field(pattern=SLACK_USER_OR_GROUP_ID)]] | None = None
    approval_expiry_minutes: int | None = Field(default=None, ge=1, le=MAX_WINDOW_MINUTES)
    recovery_minutes: int | None = Field(default=None, ge=1, le=MAX_WINDOW_MINUTES)
    max_rollback_steps: int | None = Field(default=None, ge=1, le=MAX_ROLLBACK_STEPS)


class PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    dry_run: bool = False
    allowed_prompts: list[str] = Field(default_factory=lambda: ["*"])
    cooldown_minutes: int = Field(default=30, ge=0, le=MAX_COOLDOWN_MINUTES)
    max_rollbacks_per_day: int = Field(default=3, ge=0, le=MAX_ROLLBACKS_PER_DAY)
    prompts: dict[str, PromptOverrides] = Field(default_factory=dict)
    channel: str | None = Field(default=None, pattern=SLACK_CHANNEL_ID_OR_NAME)
    mode: Mode = "auto"
    approvers: list[Annotated[str, Field(pattern=SLACK_USER_OR_GROUP_ID)]] = Field(default_factory=list)
    approval_expiry_minutes: int = Field(default=60, ge=1, le=MAX_WINDOW_MINUTES)
    recovery_minutes: int = Field(default=30, ge=1, le=MAX_WINDOW_MINUTES)
    max_rollback_steps: int = Field(default=1, ge=1, le=MAX_ROLLBACK_STEPS)
    # The rollback plan's recovery rule, for rollbacks a version-scoped alert caused
    # (domain/recovery.py): errors under 1 % of the production version's generations for 5 min.
    recovery_error_rate_below: float = Field(default=0.01, gt=0, le=1)
    recovery_error_minutes: int = Field(default=5, ge=1, le=MAX_WINDOW_MINUTES)

    def allows(self, prompt_name: str) -> bool:
        return any(fnmatchcase(prompt_name, pattern) for pattern in self.allowed_prompts)

    # The first matching key in the order written wins, so list narrow patterns before broad ones.
    def _override_for(self, prompt_name: str) -> PromptOverrides:
        return next(
            (o for pattern, o in self.prompts.items() if fnmatchcase(prompt_name, pattern)),
            PromptOverrides(),
        )

    def oversight_for(self, prompt_name: str) -> Oversight:
        override = self._override_for(prompt_name)
        approvers = self.approvers if override.approvers is None else override.approvers
        return Oversight(
            channel=override.channel or self.channel or "",
            mode=override.mode or self.mode,
            approvers=tuple(approvers),
            approval_expiry=timedelta(
                minutes=override.approval_expiry_minutes or self.approval_expiry_minutes
            ),
            recovery_window=timedelta(minutes=override.recovery_minutes or self.recovery_minutes),
            max_rollback_steps=override.max_rollback_steps or self.max_rollback_steps,
            recovery_rule=RecoveryRule(
                self.recovery_error_rate_below, timedelta(minutes=self.recovery_error_minutes)
            ),
        )

    def guards_for(self, prompt_name: str) -> Guards:
        override = self._override_for(prompt_name)
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
