"""Rollouts in local mode: the fast plan of `--step-seconds`, and a loop that plays EventBridge Scheduler
(each rollout's next tick put on the prompt's FIFO group when due, for the worker) and prints every step
of each rollout of the watched prompts, from the ledger, whoever made it (a tick, the CLI, a click)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from prompt_rollback.domain.audit import parse_iso_utc
from prompt_rollback.domain.audit_record import LedgerRecord
from prompt_rollback.domain.canary.analysis import AnalysisLimits, MetricResult
from prompt_rollback.domain.requests import message_group_id
from prompt_rollback.domain.rollout_messages import RolloutTick
from prompt_rollback.domain.rollout_plan import (
    Approval,
    Bake,
    BakeTrigger,
    PatternPlan,
    PlanNotes,
    PlanStep,
    RolloutPlan,
    RolloutPlans,
)
from prompt_rollback.domain.rollout_record import RolloutRecord
from prompt_rollback.domain.rollout_slack import rollout_message
from prompt_rollback.domain.rollout_state import Rollout, fold

from local_mode.slack_click import LOCAL_APPROVER

LOCAL_SAMPLES = 200  # per arm and step, and for the P99 comparison: a few seconds of fast traffic
DEADLINE_STEPS = 30  # an inconclusive step pauses after this many step-seconds
HISTORY = 1000  # as the controller reads a prompt's ledger (rollout/service.py)
Say = Callable[[str], None]


def fast_plans(step_seconds: float) -> RolloutPlans:
    """The default plan (5 → 25 → 50 → 100 %, an SRE at 5 %, the product owner at 50 %) with steps,
    ticks and bake of `step_seconds`; the local Slack user may approve both checkpoints by a click."""
    step = timedelta(seconds=step_seconds)
    limits = AnalysisLimits(exact_match_margin=0.02, latency_p99_ratio=1.2, latency_min_samples=LOCAL_SAMPLES)
    timing: dict[str, Any] = {
        "min_duration": step,
        "max_duration": step * DEADLINE_STEPS,
        "min_samples_per_arm": LOCAL_SAMPLES,
        "analysis": limits,
    }
    plan = RolloutPlan(
        steps=(
            PlanStep(share=5, approval=Approval(approvers=("sre", LOCAL_APPROVER)), **timing),
            PlanStep(share=25, **timing),
            PlanStep(share=50, approval=Approval(approvers=("product-owner", LOCAL_APPROVER)), **timing),
            PlanStep(share=100),
        ),
        bake=Bake(duration=step, triggers=(BakeTrigger(metric="error_rate", above=0.03, window=step),)),
        notes=PlanNotes(intent=f"local mode: steps of {step_seconds:g} s"),
        tick_interval=step,
    )
    return RolloutPlans(defaults=(PatternPlan(pattern="*", plan=plan),))


# ---- what a person reads --------------------------------------------------------------------------
def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _arms(metrics: list[MetricResult]) -> str:
    by_name = {m.metric: m for m in metrics}
    parts = []
    if "error_rate" in by_name:
        m = by_name["error_rate"]
        parts.append(f"canary errors {_percent(m.canary)} vs {_percent(m.stable)}")
    if "exact_match" in by_name:
        m = by_name["exact_match"]
        shown = [("n/a" if v is None else f"{v:.3f}") for v in (m.canary, m.stable)]
        parts.append(f"exact match {shown[0]} vs {shown[1]}")
    if "latency_p99" in by_name:
        m = by_name["latency_p99"]
        shown = [("n/a" if v is None else f"{v:,.0f}") for v in (m.canary, m.stable)]
        parts.append(f"P99 {shown[0]} vs {shown[1]} ms")
    if metrics:
        parts.append(f"{metrics[0].canary_samples:,} vs {metrics[0].stable_samples:,} requests")
    return ", ".join(parts)


def _analysis_line(record: RolloutRecord, head: str) -> str:
    detail = record.detail
    if detail.get("bake") is not None:
        numbers = ", ".join(
            f"{metric} {_percent(_float(v[0]))} (n={v[1]})" for metric, v in detail["bake"].items()
        )
        return f"{head} baking at 100 %: {numbers}: {detail.get('outcome')}"
    metrics = [MetricResult.model_validate(m) for m in detail.get("metrics") or []]
    outcome = str(detail.get("outcome", ""))
    reasons = [str(r) for r in detail.get("reasons") or []]
    why = f" ({reasons[0]})" if outcome == "inconclusive" and reasons else ""
    return f"{head} at {record.share} %: {_arms(metrics) or 'no data yet'}: {outcome}{why}"


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def describe(record: RolloutRecord, rollout: Rollout, cli: str) -> str:
    """One line (two for a checkpoint: the command that answers it) for one rollout record."""
    head = f"[rollout] {record.prompt_name} v{record.candidate}"
    kind, reason = record.kind, record.reason
    if kind == "analysis":
        return _analysis_line(record, head)
    if kind == "rollout_started":
        steps = " → ".join(f"{s.share} %" for s in rollout.plan.steps)
        return f"{head} started by {record.actor} at {record.share} % over v{record.stable} (steps {steps})"
    if kind == "approval_requested":
        approvers = [str(a) for a in record.detail.get("approvers") or []]
        return (
            f"{head} at {record.share} %: waiting for approval by one of {', '.join(approvers)}\n"
            f"  {cli} rollout approve --prompt {record.prompt_name} --actor {approvers[0]} --in-process"
            "   (or the Approve button)"
        )
    if kind == "step":
        return f"{head} stepped up to {record.share} % ({reason})"
    if kind == "aborted":
        was = rollout.plan.steps[record.step].share if rollout.bake_until is None else 100
        return f"{head} aborted at {was} %: {reason}; production is v{record.production or record.stable}"
    if kind == "promoted":
        bake = rollout.plan.bake.duration.total_seconds()
        return f"{head} promoted: production is v{record.candidate} ({reason}); baking for {bake:g} s"
    if kind == "baked":
        return f"{head} baked: the rollout is done, production stays v{record.candidate}"
    if kind == "rejected" and record.detail.get("refused"):
        return f"{head} refused: {reason}"
    return f"{head} {kind}: {reason}"


def slack_text(rollout: Rollout, stage: str) -> str:
    """The rollout's Slack message as local mode prints it without Slack (as ConsoleNotifier does)."""
    message = rollout_message(rollout, stage)
    lines = ["", "──── Slack message (SLACK_WEBHOOK_URL not set) ────"]
    for block in message["blocks"]:
        if "text" in block:
            lines.append(block["text"]["text"])
        for element in block.get("elements", []):
            lines.append(element["text"]["text"] if isinstance(element["text"], dict) else element["text"])
    lines.append("─" * 51)
    return "\n".join(lines)


# ---- the loop ------------------------------------------------------------------------------------
@dataclass
class _Watched:
    prompt_name: str
    records: list[LedgerRecord] = field(default_factory=list)  # oldest first
    rollout: Rollout | None = None
    sent: set[tuple[str, int]] = field(default_factory=set)  # (rollout id, tick) put on the queue
    last_outcome: str = ""
    primed: bool = False  # the first look takes in what the ledger held before: nothing is printed

    @property
    def key(self) -> str:
        return f"langfuse#{self.prompt_name}"

    @property
    def seen(self) -> int:
        return self.records[-1].seq if self.records else 0


class RolloutTicker:
    """Every `poll_seconds`: new records of each watched prompt printed, and the tick its rollout
    waits for put on the queue once `tick_interval` has passed since its newest record."""

    def __init__(
        self,
        ledger: Any,
        prompt_names: list[str],
        queue_url: str,
        say: Say,
        cli: str,
        slack_in_console: bool,
        stage: str = "",
        poll_seconds: float = 0.25,
    ) -> None:
        self._ledger = ledger
        self._watched = [_Watched(name) for name in prompt_names]
        self._sqs = boto3.client("sqs")
        self._queue_url = queue_url
        self._say = say
        self._cli = cli
        self._slack_in_console = slack_in_console
        self._stage = stage
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rollout-ticks", daemon=True)
        self.ticks_sent = 0

    def start(self) -> RolloutTicker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            for watched in self._watched:
                try:
                    self.look(watched, datetime.now(UTC))
                except Exception as error:  # the next look tries again; the developer sees why
                    self._say(
                        f"[rollout] {watched.prompt_name}: could not look ({type(error).__name__}: {error})"
                    )

    def look(self, watched: _Watched, now: datetime) -> None:
        new = self._new_records(watched)
        if new:
            watched.records = [*watched.records, *new][-HISTORY:]
            watched.rollout = fold(watched.records)
            if watched.primed:
                self._show(watched, new)
        watched.primed = True
        rollout = watched.rollout
        if rollout is None or rollout.last is None or not rollout.active or rollout.next_tick is None:
            return
        if (rollout.rollout_id, rollout.next_tick) in watched.sent:
            return
        # As the controller schedules it (rollout_transitions.tick_due): one interval after its record.
        if now >= parse_iso_utc(rollout.last.recorded_at) + rollout.plan.tick_interval:
            self._send(rollout)
            watched.sent.add((rollout.rollout_id, rollout.next_tick))

    def _new_records(self, watched: _Watched) -> list[LedgerRecord]:
        newest_first = self._ledger.recent(watched.key, 20)
        if newest_first and newest_first[-1].seq > watched.seen + 1:  # more than 20 since the last look
            newest_first = self._ledger.recent(watched.key, HISTORY)
        return [r for r in reversed(newest_first) if r.seq > watched.seen]

    def _show(self, watched: _Watched, new: list[LedgerRecord]) -> None:
        rollout = watched.rollout
        if rollout is None:
            return
        changed = False
        for record in new:
            if not isinstance(record, RolloutRecord) or record.rollout_id != rollout.rollout_id:
                continue
            if record.kind == "analysis":
                outcome = str(record.detail.get("outcome", ""))
                # While a checkpoint waits, a look that says the same again is not news.
                if rollout.status == "waiting_approval" and outcome == watched.last_outcome:
                    continue
                watched.last_outcome = outcome
            else:
                changed = True
            self._say(describe(record, rollout, self._cli))
        if changed and self._slack_in_console:
            self._say(slack_text(rollout, self._stage))

    def _send(self, rollout: Rollout) -> None:
        """What the tick's one-shot schedule puts on the queue (adapters/rollout_scheduler.py)."""
        assert rollout.next_tick is not None
        tick = RolloutTick(
            provider=rollout.provider,  # type: ignore[arg-type]  # the provider the rollout started with
            prompt_name=rollout.prompt_name,
            rollout_id=rollout.rollout_id,
            step=rollout.step,
            tick=rollout.next_tick,
        )
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=tick.model_dump_json(),
            MessageGroupId=message_group_id(tick.provider, tick.prompt_name),
        )
        self.ticks_sent += 1
