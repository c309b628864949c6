"""What each event does to a rollout: the records to append, the registry move to make after them, the
tick to schedule. Pure. Verdict `fail` aborts at once; `inconclusive` past the step's deadline pauses;
`pass` steps up or waits for an approver; a production move by anyone else stops the rollout."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from prompt_rollback.domain.canary.analysis import StepWindow, Verdict, judge_look
from prompt_rollback.domain.rollout_plan import FULL_SHARE
from prompt_rollback.domain.rollout_record import RolloutRecord
from prompt_rollback.domain.rollout_state import Rollout, new_record

MoveKind = Literal["share", "abort", "promote", "rollback"]
Decision = Literal["approve", "reject"]


@dataclass(frozen=True)
class RegistryMove:
    """share: the candidate gets `canary` and `canary-N`; abort: `canary` onto stable (0 %);
    promote: `production` onto the candidate; rollback: `production` and `canary` back onto stable."""

    kind: MoveKind
    share: int = 0


@dataclass(frozen=True)
class Transition:
    records: tuple[RolloutRecord, ...] = ()
    move: RegistryMove | None = None
    answer: str = ""  # what happened, in words (the CLI prints it)
    refused: bool = False  # the command changed nothing (or only recorded a refusal)

    @property
    def next_tick(self) -> int | None:
        return self.records[-1].next_tick if self.records else None


def tick_key(rollout_id: str, step: int, tick: int) -> str:
    return f"{rollout_id}:{step}:{tick}"


def refusal(answer: str) -> Transition:
    return Transition(answer=answer, refused=True)


# ---- looks ------------------------------------------------------------------------------------
def judge_step(rollout: Rollout, window: StepWindow, now: datetime) -> Verdict:
    """The analysis of the current step over `window`, with the steps before it, and the plan's
    absolute error ceiling as one more condition for passing."""
    step = rollout.current_step
    windows = [w for index, w in sorted(rollout.windows.items()) if index < rollout.step] + [window]
    elapsed = now - (rollout.step_started_at or rollout.started_at)
    verdict = judge_look(windows, elapsed, step.requirements(), step.analysis, rollout.p_values)  # type: ignore[arg-type]
    ceiling = step.max_error_rate
    requests = window.canary.requests
    if (
        verdict.outcome == "pass"
        and ceiling is not None
        and requests
        and window.canary.errors / requests >= ceiling
    ):
        reason = f"error_rate: canary {window.canary.errors / requests:.4f} is at or above {ceiling}"
        return replace(verdict, outcome="inconclusive", reasons=(reason,))
    return verdict


def _analysis_detail(verdict: Verdict, window: StepWindow | None) -> dict[str, Any]:
    return {
        "outcome": verdict.outcome,
        "reasons": list(verdict.reasons),
        "metrics": [m.model_dump(mode="json") for m in verdict.metrics],
        "p_values": dict(verdict.p_values()),
        "window": window.model_dump(mode="json") if window is not None else None,
    }


def on_look(rollout: Rollout, tick: int, verdict: Verdict, window: StepWindow, now: datetime) -> Transition:
    """One tick's analysis of a split step, and what its verdict leads to."""
    key = tick_key(rollout.rollout_id, rollout.step, tick)
    detail = _analysis_detail(verdict, window)
    reasons = "; ".join(verdict.reasons)
    analysis = new_record(
        rollout, "analysis", now, "prompt-rollback", reasons, tick_key=key, next_tick=tick + 1, detail=detail
    )
    looked = replace(rollout, next_tick=tick + 1)
    if verdict.outcome == "fail":
        return _abort(
            looked, (analysis,), now, "prompt-rollback", "analysis failed: " + "; ".join(verdict.reasons)
        )
    step = rollout.current_step
    if verdict.outcome == "inconclusive":
        elapsed = now - (rollout.step_started_at or rollout.started_at)
        if elapsed > step.max_duration:
            reason = f"inconclusive past the step's deadline ({step.max_duration}): " + "; ".join(
                verdict.reasons
            )
            return _pause(looked, (analysis,), now, "prompt-rollback", reason)
        return Transition((analysis,), answer="inconclusive: " + "; ".join(verdict.reasons))
    if rollout.status == "waiting_approval":
        return Transition((analysis,), answer="passes; waiting for approval")
    if step.approval is not None:
        why = f"step {rollout.share} % passed its analysis; leaving it needs an approver"
        approvers = {
            "approvers": list(step.approval.approvers),
            "expires_after": str(step.approval.expires_after),
        }
        asked = new_record(looked, "approval_requested", now, "prompt-rollback", why, detail=approvers)
        return Transition((analysis, asked), answer="passes; approval requested")
    return advance(looked, (analysis,), now, "prompt-rollback", "analysis passed")


def on_bake_look(
    rollout: Rollout, tick: int, values: Mapping[str, tuple[float | None, int]], now: datetime
) -> Transition:
    """A tick after promotion: the plan's rollback triggers over the candidate, now production."""
    key = tick_key(rollout.rollout_id, rollout.step, tick)
    fired = [t.describe() for t in rollout.plan.bake.triggers if t.fired(*values.get(t.metric, (None, 0)))]
    detail = {"outcome": "fired" if fired else "holding", "bake": {m: list(v) for m, v in values.items()}}
    baking_done = rollout.bake_until is not None and now >= rollout.bake_until
    next_tick = None if fired or baking_done else tick + 1
    analysis = new_record(
        rollout,
        "analysis",
        now,
        "prompt-rollback",
        "; ".join(fired),
        tick_key=key,
        next_tick=next_tick,
        detail=detail,
    )
    looked = replace(rollout, next_tick=next_tick)
    if fired:
        reason = f"bake trigger fired: {'; '.join(fired)}; back to the previous stable v{rollout.stable}"
        rolled = new_record(
            looked,
            "aborted",
            now,
            "prompt-rollback",
            reason,
            share=0,
            production=rollout.stable,
            next_tick=None,
        )
        return Transition((analysis, rolled), RegistryMove("rollback"), answer=reason)
    if baking_done:
        baked = new_record(looked, "baked", now, "prompt-rollback", f"baked for {rollout.plan.bake.duration}")
        return Transition((analysis, baked), answer="baked: the rollout is done")
    return Transition((analysis,), answer="baking")


def on_outside_move(rollout: Rollout, now: datetime) -> Transition:
    """Someone else moved production during the rollout: stop, say who, leave production where they put it."""
    who, version = rollout.outside_move or ("someone", None)
    reason = f"production moved to v{version} by {who} during the rollout: stopped"
    record = new_record(
        rollout, "aborted", now, "prompt-rollback", reason, share=0, production=version, next_tick=None
    )
    return Transition((record,), RegistryMove("abort"), answer=reason)


# ---- steps and endings -------------------------------------------------------------------------
def advance(
    rollout: Rollout, before: tuple[RolloutRecord, ...], now: datetime, actor: str, reason: str
) -> Transition:
    """To the next step, or to 100 % (promotion, then the bake)."""
    following = rollout.step + 1
    if following >= len(rollout.plan.steps) or rollout.plan.steps[following].share == FULL_SHARE:
        return promote(rollout, before, now, actor, reason)
    share = rollout.plan.steps[following].share
    record = new_record(rollout, "step", now, actor, reason, step=following, share=share)
    return Transition((*before, record), RegistryMove("share", share), answer=f"stepped up to {share} %")


def promote(
    rollout: Rollout, before: tuple[RolloutRecord, ...], now: datetime, actor: str, reason: str
) -> Transition:
    last = len(rollout.plan.steps) - 1
    record = new_record(
        rollout, "promoted", now, actor, reason, step=last, share=FULL_SHARE, production=rollout.candidate
    )
    answer = f"v{rollout.candidate} promoted to production; baking for {rollout.plan.bake.duration}"
    return Transition((*before, record), RegistryMove("promote"), answer=answer)


def _abort(
    rollout: Rollout, before: tuple[RolloutRecord, ...], now: datetime, actor: str, reason: str
) -> Transition:
    record = new_record(rollout, "aborted", now, actor, reason, share=0, next_tick=None)
    return Transition((*before, record), RegistryMove("abort"), answer=f"aborted: {reason}")


def _pause(
    rollout: Rollout, before: tuple[RolloutRecord, ...], now: datetime, actor: str, reason: str
) -> Transition:
    record = new_record(rollout, "paused", now, actor, reason, next_tick=None)
    return Transition((*before, record), answer=f"paused: {reason}")


def approval_expired(rollout: Rollout, now: datetime) -> Transition | None:
    approval = rollout.current_step.approval
    if rollout.status != "waiting_approval" or approval is None or rollout.waiting_since is None:
        return None
    if now - rollout.waiting_since <= approval.expires_after:
        return None
    return _pause(rollout, (), now, "prompt-rollback", f"approval expired after {approval.expires_after}")


# ---- what people do ----------------------------------------------------------------------------
def decide_approval(
    rollout: Rollout,
    step: int,
    actor: str,
    decision: Decision,
    now: datetime,
    is_approver: Callable[[str, tuple[str, ...]], bool],
) -> Transition:
    """An approver's answer at a checkpoint. Anyone else is refused, and the refusal is recorded."""
    approval = rollout.current_step.approval
    if rollout.status != "waiting_approval" or step != rollout.step or approval is None:
        where = f"the rollout is {rollout.status} at step {rollout.step}"
        return refusal(f"step {step} is not waiting for approval ({where})")
    if not is_approver(actor, approval.approvers):
        reason = f"not allowed: {actor} is not an approver of step {step} ({', '.join(approval.approvers)})"
        record = new_record(rollout, "rejected", now, actor, reason, detail={"refused": True})
        return Transition((record,), answer=reason, refused=True)
    if decision == "reject":
        rejected = new_record(rollout, "rejected", now, actor, f"{actor} rejected leaving {rollout.share} %")
        return _abort(rollout, (rejected,), now, actor, f"rejected by {actor} at {rollout.share} %")
    approved = new_record(rollout, "approved", now, actor, f"{actor} approved leaving {rollout.share} %")
    return advance(replace(rollout, status="progressing"), (approved,), now, actor, f"approved by {actor}")


def by_hand(rollout: Rollout, command: str, actor: str, now: datetime, full: bool = False) -> Transition:
    """pause, resume, abort, promote [--full] from the CLI (whoever may invoke the worker)."""
    if not rollout.active:
        return refusal(f"rollout {rollout.rollout_id} is already {rollout.status}")
    if command == "abort":
        if rollout.status == "baking":
            reason = f"aborted by {actor} during the bake: back to the previous stable v{rollout.stable}"
            record = new_record(
                rollout, "aborted", now, actor, reason, share=0, production=rollout.stable, next_tick=None
            )
            return Transition((record,), RegistryMove("rollback"), answer=reason)
        return _abort(rollout, (), now, actor, f"aborted by {actor}")
    if command == "pause":
        if rollout.status in ("paused", "baking"):
            return refusal(f"cannot pause a rollout that is {rollout.status}")
        return _pause(rollout, (), now, actor, f"paused by {actor}")
    if command == "resume":
        if rollout.status != "paused":
            return refusal(f"the rollout is {rollout.status}, not paused")
        record = new_record(
            rollout, "resumed", now, actor, f"resumed by {actor}", next_tick=rollout.ticks_issued + 1
        )
        return Transition((record,), answer="resumed")
    if command == "promote":
        if rollout.status == "baking":
            return refusal("already at 100 %: baking")
        if rollout.next_tick is None:  # paused: the ticks start again with the move
            rollout = replace(rollout, next_tick=rollout.ticks_issued + 1)
        if full:
            return promote(rollout, (), now, actor, f"promoted in full by {actor}")
        return advance(rollout, (), now, actor, f"promoted one step by {actor}")
    return refusal(f"unknown command {command!r}")


def step_deadline(rollout: Rollout) -> datetime:
    return (rollout.step_started_at or rollout.started_at) + rollout.current_step.max_duration


def tick_due(rollout: Rollout, now: datetime) -> datetime:
    return now + max(rollout.plan.tick_interval, timedelta(seconds=1))
