"""Rollout plans: the steps a candidate climbs, what each step asks of the analysis and of people,
and the bake after 100 %. Validated when loaded; an error names the field (docs/rollout.md, "Plans").
`ROLLOUT_PLANS` holds defaults per prompt pattern (fnmatch, first match wins) from cdk.json."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prompt_rollback.domain.canary.analysis import AnalysisLimits, StepRequirements
from prompt_rollback.domain.rollout_split import DEFAULT_CANDIDATE_LABEL

FULL_SHARE = 100
MAX_STEPS = 20
TEXT_LIMIT = 2000
SLACK_USER_GROUP_ID = re.compile(r"S[A-Z0-9]{2,20}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Approval(_Frozen):
    """Who may let the candidate leave a step (any one of them), and how long they have."""

    approvers: tuple[str, ...] = Field(min_length=1, max_length=50)
    expires_after: timedelta = Field(default=timedelta(hours=24), gt=timedelta(0))


def approves(actor: str, approvers: Sequence[str], members_of: Callable[[str], frozenset[str]]) -> bool:
    """Whether `actor` is one of `approvers`: named (a name, a Slack user id), or a member of a
    named Slack user group (`S…`, expanded by `members_of`; a group Slack cannot expand lets nobody in)."""
    if actor in approvers:
        return True
    groups = (group for group in approvers if SLACK_USER_GROUP_ID.fullmatch(group))
    return any(actor in members_of(group) for group in groups)


class PlanStep(_Frozen):
    """One share of traffic, held until the analysis passes and (when named) an approver agrees.
    `max_duration`: an inconclusive analysis past it pauses the rollout for a person."""

    share: int = Field(ge=1, le=FULL_SHARE)
    min_duration: timedelta = Field(default=timedelta(minutes=30), ge=timedelta(0))
    max_duration: timedelta = Field(default=timedelta(hours=4), gt=timedelta(0))
    min_samples_per_arm: int = Field(default=500, ge=1)
    # The process's absolute ceiling: the step cannot pass while the canary's errors reach it (the
    # sequential test alone only asks that the canary be no worse than stable).
    max_error_rate: float | None = Field(default=0.01, gt=0, le=1)
    analysis: AnalysisLimits = AnalysisLimits()
    approval: Approval | None = None  # needed to leave this step

    @model_validator(mode="after")
    def _deadline_after_minimum(self) -> Self:
        if self.max_duration < self.min_duration:
            raise ValueError("max_duration must not be shorter than min_duration")
        return self

    def requirements(self) -> StepRequirements:
        return StepRequirements(min_duration=self.min_duration, min_samples_per_arm=self.min_samples_per_arm)


class BakeTrigger(_Frozen):
    """A rollback plan's trigger after 100 %: e.g. the error rate above 3 % over 30 minutes."""

    metric: Literal["error_rate", "exact_match"] = "error_rate"
    above: float | None = Field(default=None, ge=0, le=1)
    below: float | None = Field(default=None, ge=0, le=1)
    window: timedelta = Field(default=timedelta(minutes=30), gt=timedelta(0))
    min_samples: int = Field(default=100, ge=1)

    @model_validator(mode="after")
    def _one_limit(self) -> Self:
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of above or below")
        return self

    def fired(self, value: float | None, samples: int) -> bool:
        if value is None or samples < self.min_samples:
            return False
        return (self.above is not None and value > self.above) or (
            self.below is not None and value < self.below
        )

    def describe(self) -> str:
        limit = f"> {self.above}" if self.above is not None else f"< {self.below}"
        return f"{self.metric} {limit} over {self.window}"


class Bake(_Frozen):
    duration: timedelta = Field(default=timedelta(minutes=30), ge=timedelta(0))
    triggers: tuple[BakeTrigger, ...] = (BakeTrigger(metric="error_rate", above=0.03),)


class PlanNotes(_Frozen):
    """Free text kept with the rollout on the ledger."""

    intent: str = Field(default="", max_length=TEXT_LIMIT)
    risk: str = Field(default="", max_length=TEXT_LIMIT)
    ticket: str = Field(default="", max_length=TEXT_LIMIT)
    rollback_plan: str = Field(default="", max_length=TEXT_LIMIT)


class RolloutPlan(_Frozen):
    steps: tuple[PlanStep, ...] = Field(min_length=1, max_length=MAX_STEPS)
    bake: Bake = Bake()
    notes: PlanNotes = PlanNotes()
    candidate_label: str = Field(default=DEFAULT_CANDIDATE_LABEL, pattern=r"^[a-z][a-z0-9_.]{0,35}$")
    tick_interval: timedelta = Field(default=timedelta(minutes=5), ge=timedelta(seconds=1))
    # Checkpoint 2: start only a candidate whose newest gate record (`prompt-gate --record`) passed.
    require_gate: bool = False

    @model_validator(mode="after")
    def _steps_go_up_to_full(self) -> Self:
        for index in range(1, len(self.steps)):
            before, share = self.steps[index - 1].share, self.steps[index].share
            if share <= before:
                raise ValueError(
                    f"steps.{index}.share: {share} % after {before} %: steps must go up, never down or level"
                )
        if self.steps[0].share == FULL_SHARE:
            raise ValueError("steps.0.share: a rollout needs at least one step below 100 %")
        if self.steps[-1].share != FULL_SHARE:
            raise ValueError(f"steps.{len(self.steps) - 1}.share: the last step must be {FULL_SHARE} %")
        return self

    @property
    def split_steps(self) -> tuple[PlanStep, ...]:
        """The steps below 100 %: the ones analysed against stable."""
        return tuple(step for step in self.steps if step.share < FULL_SHARE)


def default_plan() -> RolloutPlan:
    """The issue's process: 5 → 25 → 50 → 100; errors < 1 %, P99 ≤ 1.2x stable, exact match ≥ stable
    minus 2 points; an SRE approves leaving 5 %, the product owner approves 100 %; a 30-minute bake."""
    limits = AnalysisLimits(exact_match_margin=0.02, latency_p99_ratio=1.2)
    return RolloutPlan(
        steps=(
            PlanStep(share=5, analysis=limits, approval=Approval(approvers=("sre",))),
            PlanStep(share=25, analysis=limits),
            PlanStep(share=50, analysis=limits, approval=Approval(approvers=("product-owner",))),
            PlanStep(share=FULL_SHARE),
        ),
        bake=Bake(duration=timedelta(minutes=30), triggers=(BakeTrigger(metric="error_rate", above=0.03),)),
    )


class PatternPlan(_Frozen):
    pattern: str = Field(min_length=1)
    plan: RolloutPlan


class RolloutPlans(_Frozen):
    """`ROLLOUT_PLANS`: the default plan per prompt pattern; the issue's default for the rest."""

    defaults: tuple[PatternPlan, ...] = ()
    # Prompts (fnmatch) whose rollout starts when a person adds the candidate label in Langfuse's UI.
    rollout_on_canary_label: tuple[str, ...] = Field(default=(), max_length=100)

    def starts_on_canary_label(self, prompt_name: str) -> bool:
        return any(fnmatchcase(prompt_name, pattern) for pattern in self.rollout_on_canary_label)

    def plan_for(self, prompt_name: str) -> RolloutPlan:
        return next(
            (entry.plan for entry in self.defaults if fnmatchcase(prompt_name, entry.pattern)),
            default_plan(),
        )
